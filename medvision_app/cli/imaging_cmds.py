"""``medvision info`` and ``medvision render``."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from medvision_app.imaging import MedicalImage, open_image
from medvision_app.imaging.export import save_png
from medvision_app.imaging.files import is_folder
from medvision_app.imaging.study_index import StudyIndex, scan_folder
from medvision_app.utils.text import one_line


def register(sub) -> None:
    info = sub.add_parser("info", help="describe an image file or index a folder of studies")
    info.add_argument("path", type=Path, help="an image file, a folder, or a DICOMDIR")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.add_argument("--deidentify", action="store_true", help="leave out fields that identify the patient")
    info.set_defaults(func=cmd_info)

    render = sub.add_parser("render", help="write an image as the viewer shows it, to an 8-bit PNG")
    render.add_argument("path", type=Path)
    render.add_argument("out", type=Path, help="output .png")
    render.add_argument("--frame", type=int, default=0, help="frame index (default 0)")
    render.add_argument(
        "--window",
        metavar="CENTER,WIDTH",
        help="VOI window instead of the file's first preset (write --window=-600,1500 for a negative center)",
    )
    render.set_defaults(func=cmd_render)


def image_summary(image: MedicalImage, *, deidentify: bool = False) -> dict:
    rows, cols = image.shape
    return {
        "path": str(image.path),
        "format": image.format,
        "transfer_syntax": image.transfer_syntax,
        "rows": rows,
        "columns": cols,
        "frames": image.n_frames,
        "photometric_interpretation": image.photometric,
        "color": image.is_color,
        "dtype": str(image.frames.dtype),
        "bits_stored": image.bits_stored,
        "pixel_spacing_mm": list(image.pixel_spacing) if image.pixel_spacing else None,
        "rescale": None
        if image.modality_lut.is_identity
        else (
            {"lut_entries": len(image.modality_lut.lut)}
            if image.modality_lut.lut is not None
            else {"slope": image.modality_lut.slope, "intercept": image.modality_lut.intercept}
        ),
        "presets": [
            {"name": p.name, "center": p.center, "width": p.width, "function": p.function}
            if p.is_window
            else {"name": p.name, "voi_lut_entries": len(p.lut)}
            for p in image.presets
        ],
        "metadata": image.metadata.as_dict(include_identifying=not deidentify),
    }


def index_summary(index: StudyIndex, *, deidentify: bool = False) -> dict:
    def instance(rec):
        return {
            "path": str(rec.path),
            "format": rec.format,
            "rows": rec.rows,
            "columns": rec.columns,
            "frames": rec.n_frames,
            "has_pixels": rec.has_pixels,
            "laterality": rec.metadata.laterality,
            "view_position": rec.metadata.view_position,
        }

    return {
        "root": str(index.root),
        "patients": [
            {
                "patient_id": None if deidentify else p.patient_id,
                "name": None if deidentify else p.name,
                "studies": [
                    {
                        "uid": None if deidentify else s.uid,
                        "description": s.description,
                        "date": None if deidentify else s.date,
                        "series": [
                            {
                                "description": se.description,
                                "modality": se.modality,
                                "number": se.number,
                                "instances": [instance(r) for r in se.instances],
                            }
                            for se in s.series
                        ],
                    }
                    for s in p.studies
                ],
            }
            for p in index.patients
        ],
        "unreadable": [{"path": str(u.path), "reason": u.reason} for u in index.unreadable],
    }


def _print_image(summary: dict) -> None:
    print(one_line(summary["path"]))
    print(f"  format:               {summary['format']}" + (f" ({summary['transfer_syntax']})" if summary["transfer_syntax"] else ""))
    print(f"  size:                 {summary['columns']} x {summary['rows']}, {summary['frames']} frame(s), {summary['dtype']}, {summary['bits_stored']} bits stored")
    print(f"  photometric:          {summary['photometric_interpretation']}")
    if summary["pixel_spacing_mm"]:
        print(f"  spacing:              {summary['pixel_spacing_mm'][0]:g} x {summary['pixel_spacing_mm'][1]:g} mm")
    if summary["rescale"]:
        print(f"  modality LUT:         {summary['rescale']}")
    for preset in summary["presets"]:
        print(f"  preset:               {preset['name']}" + (f" [{preset['function']}]" if preset.get("function") not in (None, "LINEAR") else ""))
    for key, value in summary["metadata"].items():
        if value not in (None, ""):
            print(f"  {key.replace('_', ' ') + ':':<22}{one_line(str(value))}")


def _print_index(summary: dict) -> None:
    n = 0
    for patient in summary["patients"]:
        print(f"Patient {patient['patient_id'] or '(hidden)'}" + (f"  {patient['name']}" if patient["name"] else ""))
        for study in patient["studies"]:
            print(f"  Study {study['description'] or study['uid'] or ''} {study['date'] or ''}".rstrip())
            for series in study["series"]:
                print(f"    Series {series['number'] or ''} {series['modality'] or ''} {series['description'] or ''}: {len(series['instances'])} image(s)")
                for inst in series["instances"]:
                    n += 1
                    view = " ".join(v for v in (inst["laterality"], inst["view_position"]) if v)
                    size = f"{inst['columns']}x{inst['rows']}" if inst["rows"] else ""
                    flag = "" if inst["has_pixels"] else "  (no pixel data)"
                    print(f"      {one_line(Path(inst['path']).name)}  {size} {view}{flag}".rstrip())
    print(f"{n} image(s), {len(summary['unreadable'])} unreadable file(s)")
    for item in summary["unreadable"]:
        print(f"  unreadable: {one_line(item['path'])}: {one_line(item['reason'])}")


def cmd_info(args) -> int:
    if is_folder(args.path) or args.path.name.upper() == "DICOMDIR":
        summary = index_summary(scan_folder(args.path), deidentify=args.deidentify)
        printer = _print_index
    else:
        summary = image_summary(open_image(args.path), deidentify=args.deidentify)
        printer = _print_image
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        printer(summary)
    return 0


def parse_window(text: str) -> tuple[float, float]:
    from medvision_app.cli.main import CliError

    try:
        center, width = (float(v) for v in text.split(","))
    except ValueError:
        raise CliError(f"--window {text!r}: expected CENTER,WIDTH, for example 40,400") from None
    if not (math.isfinite(center) and math.isfinite(width)):
        raise CliError(f"--window {text!r}: the center and width must be finite numbers")
    if width <= 0:
        raise CliError(f"--window {text!r}: the width must be positive")
    return center, width


def cmd_render(args) -> int:
    from medvision_app.cli.main import CliError

    window = parse_window(args.window) if args.window else None
    image = open_image(args.path)
    if not 0 <= args.frame < image.n_frames:
        raise CliError(f"{args.path}: frame {args.frame} out of range (the image has {image.n_frames})")
    if window:
        pixels = image.display(args.frame, center=window[0], width=window[1])
    else:
        pixels = image.display(args.frame)
    try:
        save_png(pixels, args.out)
    except OSError as exc:
        raise CliError(f"{args.out}: cannot write: {exc.strerror or exc}") from None
    return 0
