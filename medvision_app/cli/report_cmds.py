"""``medvision report case`` and ``medvision report evaluation``: PDF reports, headless.

Neither needs a display or torch: predictions run through the verified ONNX
model, figures through matplotlib's Agg canvas.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medvision_app.cli.main import CliError


def register(subparsers) -> None:
    report = subparsers.add_parser("report", help="write a PDF report (a case, or a run's evaluation)",
                                   description="PDF reports. Decision support for research use, not a diagnosis.")
    kinds = report.add_subparsers(dest="report_kind", metavar="KIND", required=True)

    case = kinds.add_parser("case", help="predict a study's images and write the case report",
                            description="Predict each image with MODEL and write a case report: patient and study "
                                        "block, image and heatmap, probabilities, class, status, the model block.")
    case.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image files of the case")
    case.add_argument("--model", required=True, metavar="MODEL", help="a .onnx file or a registered model name")
    case.add_argument("--out", required=True, type=Path, metavar="REPORT.pdf")
    case.add_argument("--deidentify", action="store_true",
                      help="remove patient identity (DICOM PS3.15 Annex E Basic Profile) from the report")
    case.add_argument("--mask-burned-in", action="store_true",
                      help="with --deidentify: black out a border band of images likely to carry burned-in text")
    case.add_argument("--threshold", type=float, metavar="T",
                      help="operating threshold on the first class's probability (default: the model card's)")
    case.add_argument("--keep-going", action="store_true",
                      help="report an image that cannot be opened as failed instead of stopping")
    case.set_defaults(func=_case)

    ev = kinds.add_parser("evaluation", help="write the evaluation report of a run or search folder")
    ev.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    ev.add_argument("--out", required=True, type=Path, metavar="EVAL.pdf")
    ev.add_argument("--resamples", type=int, default=1000, metavar="N", help="bootstrap resamples (default 1000)")
    ev.add_argument("--threshold", type=float, metavar="T",
                    help="two classes: operating threshold on the first class's probability (default: arg-max)")
    ev.set_defaults(func=_evaluation)


def _check_out(out: Path) -> None:
    if out.suffix.lower() != ".pdf":
        raise CliError(f"{out}: the report is a PDF; name it .pdf")
    if not out.parent.exists():
        raise CliError(f"{out.parent}: no such folder for the report")


def _case(args: argparse.Namespace) -> int:
    _check_out(args.out)
    for path in args.paths:
        if not path.exists():
            raise CliError(f"{path}: no such file")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise CliError(f"--threshold {args.threshold}: must be within [0, 1]")
    if args.mask_burned_in and not args.deidentify:
        raise CliError("--mask-burned-in applies to de-identified reports: add --deidentify")
    from medvision_app.reports.case_analysis import analyse_case
    from medvision_app.reports.case_report import build_case_report
    from medvision_app.reports.pdf import write_pdf

    facts = analyse_case(args.paths, args.model, deidentify=args.deidentify, mask_burned_in=args.mask_burned_in,
                         threshold=args.threshold, keep_going=args.keep_going)
    write_pdf(args.out, build_case_report(facts))
    print(json.dumps({"report": str(args.out), "images": len(facts.images),
                      "statuses": [i.status for i in facts.images], "deidentified": facts.deidentified}))
    return 0


def _evaluation(args: argparse.Namespace) -> int:
    _check_out(args.out)
    if args.resamples < 1:
        raise CliError(f"--resamples {args.resamples}: must be at least 1")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise CliError(f"--threshold {args.threshold}: must be within [0, 1]")
    from medvision_app.reports.evaluation_report import write_evaluation_report

    write_evaluation_report(args.run_dir, args.out, n_resamples=args.resamples, threshold=args.threshold)
    print(json.dumps({"report": str(args.out)}))
    return 0
