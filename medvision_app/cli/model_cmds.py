"""``medvision export``, ``medvision predict`` and ``medvision models``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from medvision_app.imaging import ImageOpenError
from medvision_app.inference.errors import ModelError
from medvision_app.utils.config_io import ConfigError
from medvision_app.utils.text import one_line


def register(sub) -> None:
    export = sub.add_parser("export", help="export a training run to one verified .onnx model file")
    export.add_argument("run_dir", type=Path, help="a training run folder (config.json, checkpoints/)")
    export.add_argument("--out", type=Path, help="output .onnx (default RUN_DIR/model.onnx)")
    export.add_argument("--checkpoint", default="best", help="best or last (default best)")
    export.add_argument("--name", help="model name in the card (default: the run folder's name)")
    export.add_argument("--version", default="1", help="model version in the card (default 1)")
    export.add_argument("--licence", default="", help="licence of the training data, for the card")
    export.add_argument("--citation", default="", help="how to cite the training data, for the card")
    export.add_argument("--limitation", action="append", default=[], metavar="TEXT",
                        help="a known limitation for the card (repeatable)")
    export.add_argument("--modality", action="append", default=[], metavar="CODE",
                        help="intended use: DICOM Modality code the model is for (US, MG, DX, CR) or dermoscopy; "
                             "repeatable (default: inferred from the training data)")
    export.add_argument("--body-part", help="intended use: body part, e.g. breast (default: inferred)")
    export.add_argument("--input", dest="input_description", help="intended use: the input, e.g. "
                        "'breast ultrasound, B-mode' (default: inferred)")
    export.set_defaults(func=cmd_export)

    predict = sub.add_parser("predict", help="classify images with a model (a .onnx file or a registered name)")
    predict.add_argument("model", help="MODEL.onnx or the name of a registered model")
    predict.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="DICOM or raster images")
    predict.add_argument("--heatmap", type=Path, metavar="OUT_DIR", help="write image + heatmap overlays here as PNG")
    predict.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    predict.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    predict.add_argument("--gradcam", type=Path, metavar="RUN_DIR",
                         help="heatmaps by Grad-CAM from this training run's checkpoint (the run the model came from)")
    predict.add_argument("--cam-method", choices=("gradcam", "gradcam++"), default="gradcam")
    predict.add_argument("--allow-unverified", action="store_true",
                         help="run a model of unverified origin (neither shipped nor exported on this installation)")
    predict.add_argument("--research-override", action="store_true",
                         help="analyse images outside the model's intended use (another modality) anyway; "
                              "each such result is marked as overridden")
    predict.add_argument("--layer", help="Grad-CAM target layer (default: the backbone's last spatial convolution)")
    patient = predict.add_argument_group(
        "patient metadata", "for models trained with metadata; each value overrides the DICOM header's "
                            "(PatientAge, PatientSex, BodyPartExamined) for every image")
    patient.add_argument("--age", type=float, help="age in years")
    patient.add_argument("--sex", help="male, female (or M, F)")
    patient.add_argument("--site", help="lesion site as in training, e.g. back, face, lower extremity")
    predict.set_defaults(func=cmd_predict)

    models = sub.add_parser("models", help="list, import, remove or verify registered models")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    mlist = msub.add_parser("list", help="shipped and user models, each verified")
    mlist.add_argument("--json", action="store_true")
    mlist.set_defaults(func=cmd_models_list)
    mimport = msub.add_parser("import", help="verify a model file and copy it into the user folder")
    mimport.add_argument("path", type=Path)
    mimport.add_argument("--name", help="registered name (default: the file name)")
    mimport.add_argument("--force", action="store_true", help="replace a user model of the same name")
    mimport.set_defaults(func=cmd_models_import)
    mremove = msub.add_parser("remove", help="delete a user model")
    mremove.add_argument("name")
    mremove.set_defaults(func=cmd_models_remove)
    mverify = msub.add_parser("verify", help="check a model's hash and card (exit 2 when refused)")
    mverify.add_argument("model", help="MODEL.onnx or a registered name")
    mverify.set_defaults(func=cmd_models_verify)


def cmd_export(args) -> int:
    from medvision_app.inference.run_export import export_run

    result = export_run(args.run_dir, args.out, checkpoint=args.checkpoint, name=args.name, version=args.version,
                        licence=args.licence, citation=args.citation, limitations=args.limitation,
                        modalities=args.modality, body_part=args.body_part,
                        input_description=args.input_description)
    diffs = ", ".join(f"{k} {v:.1e}" for k, v in result.diffs.items())
    print(f"{result.path}: exported {result.card.name} ({len(result.card.classes)} classes, "
          f"input {result.card.input_channels}x{result.card.input_size[0]}x{result.card.input_size[1]}); "
          f"max |ONNX - PyTorch| on {result.checked} real images: {diffs}")
    card = result.card
    print(f"intended use: {', '.join(card.modalities) or 'modality not known (say it with --modality)'}"
          f"{', ' + card.body_part if card.body_part else ''}; heatmap: {card.heatmap_kind}"
          f"{' (' + card.heatmap_note + ')' if card.heatmap_kind == 'none' else ''}")
    return 0


def _format_text(pred) -> str:
    width = max(len(c) for c in pred.probabilities)
    lines = [f"{pred.source}: {pred.predicted} ({pred.confidence:.1%})  [{pred.model}, {pred.provider}]"]
    if pred.research_override:
        lines.append(f"  OUTSIDE INTENDED USE (research override): {pred.reason}")
    for name, p in pred.probabilities.items():
        lines.append(f"  {name:<{width}}  {p:.4f}")
    return "\n".join(lines)


def cmd_predict(args) -> int:
    from medvision_app.imaging import open_image
    from medvision_app.inference.intended_use import check_intended_use, image_modality
    from medvision_app.inference.model import load_model
    from medvision_app.inference.predict import predict
    from medvision_app.inference.provenance import require_trusted
    from medvision_app.inference.registry import ModelRegistry

    model = load_model(ModelRegistry().resolve(args.model), device=args.device)
    explainer = _gradcam_for(args, model) if args.gradcam is not None else None
    failures = 0
    written: set[str] = set()
    require_trusted(model.provenance, model.path, allow_unverified=args.allow_unverified)
    if not model.provenance.trusted:
        print(f"warning: {model.path}: {model.provenance.detail}; used because of --allow-unverified",
              file=sys.stderr)
    provenance = model.provenance.state
    for path in args.paths:
        try:
            start = time.perf_counter()
            image = open_image(path)
            opened = time.perf_counter() - start
            check = check_intended_use(model.card, image_modality(image))
            if check.outside and not args.research_override:
                _report_outside(args, path, model, check.note, provenance)
                failures += 1
                continue
            pred = predict(image, model, explainer=explainer, metadata=_patient_vector(args, model, image, path))
            # The image was opened here (the overlay needs it), so its decoding counts in "open".
            pred.timings["open"] += opened
            if check.outside:
                pred.status, pred.reason, pred.research_override = "outside_intended_use", check.note, True
        except (ImageOpenError, ModelError) as exc:
            print(f"error: {one_line(str(exc))}", file=sys.stderr)
            _report_failed(args, path, str(exc), provenance)
            failures += 1
            continue
        except ConfigError as exc:  # a preprocessing step that does not fit this image
            print(f"error: {one_line(str(path))}: {one_line(str(exc))}", file=sys.stderr)
            _report_failed(args, path, str(exc), provenance)
            failures += 1
            continue
        if args.heatmap is not None:
            _write_heatmap(args.heatmap, path, image, pred, written)
        if args.json:
            print(json.dumps({**pred.to_dict(), "provenance": provenance}))
        else:
            print(_format_text(pred))
    return 2 if failures else 0


def _write_heatmap(folder: Path, path: Path, image, pred, written: set[str]) -> None:
    """One overlay PNG per image, or one line on stderr saying why there is none."""
    from medvision_app.explanation.overlay import save_overlay_png

    if pred.heatmap is None:
        print(f"warning: {one_line(str(path))}: no heatmap: {pred.heatmap_note}", file=sys.stderr)
        return
    name = f"{path.stem}.heatmap.png"
    # Same-named images from different folders must not overwrite each other.
    index = 1
    while name in written:
        index += 1
        name = f"{path.stem}-{index}.heatmap.png"
    written.add(name)
    save_overlay_png(folder / name, image.display(0), pred.heatmap)


def _report_outside(args, path, model, note: str, provenance: str) -> None:
    print(f"error: {one_line(str(path))}: outside the intended use of {model.card.name}: {note} "
          "(--research-override analyses it anyway)", file=sys.stderr)
    if args.json:
        print(json.dumps({"source": str(path), "status": "outside_intended_use", "reason": note,
                          "model": model.identity, "provenance": provenance}))


def _report_failed(args, path, reason: str, provenance: str) -> None:
    if args.json:
        print(json.dumps({"source": str(path), "status": "failed", "reason": reason, "provenance": provenance}))


def _patient_vector(args, model, image, path):
    """The metadata vector for models that take one (None otherwise); says on stderr what was unknown."""
    if not model.card.metadata_features:
        return None
    from medvision_app.inference.patient import PatientFacts, encode_patient, facts_from_image

    stated = PatientFacts(args.age, args.sex, args.site)
    vector, unknown = encode_patient(model.card, facts_from_image(image).overridden_by(stated), str(model.path))
    if unknown:
        # Field names only: values such as the age stay out of logs.
        print(f"warning: {one_line(str(path))}: {', '.join(unknown)} not known (or not seen in training); "
              "the model sees them as unknown", file=sys.stderr)
    return vector


def _gradcam_for(args, model):
    from medvision_app.explanation import gradcam_explainer
    from medvision_app.inference.run_export import load_run

    net, config = load_run(args.gradcam)
    if list(config.run.classes) != model.card.classes or config.model.input_size != model.card.input_size[0]:
        raise ModelError(args.gradcam, f"this run (classes {config.run.classes}, input {config.model.input_size}) "
                                       f"is not the one {model.path.name} was exported from")
    return gradcam_explainer(net, method=args.cam_method, layer=args.layer)


def cmd_models_list(args) -> int:
    from medvision_app.inference.registry import ModelRegistry

    entries = ModelRegistry().list()
    if args.json:
        print(json.dumps([{
            "name": e.name, "path": str(e.path), "location": e.location, "ok": e.ok, "problem": e.problem,
            "classes": e.card.classes if e.card else None, "version": e.card.version if e.card else None,
            "provenance": e.provenance, "provenance_detail": e.provenance_detail,
        } for e in entries], indent=2))
        return 0
    if not entries:
        print("no models (shipped or user)")
    for e in entries:
        if e.ok:
            origin = "UNVERIFIED ORIGIN" if e.provenance == "unverified" else e.provenance
            print(f"{e.name:<24} {e.location:<8} {origin:<10} v{e.card.version}  {', '.join(e.card.classes)}  {e.path}")
        else:
            print(f"{e.name:<24} {e.location:<8} REFUSED: {e.problem}  {e.path}")
    return 0


def cmd_models_import(args) -> int:
    from medvision_app.inference.registry import ModelRegistry

    target = ModelRegistry().import_model(args.path, name=args.name, overwrite=args.force)
    print(f"imported {args.path} as {target.stem} ({target})")
    return 0


def cmd_models_remove(args) -> int:
    from medvision_app.inference.registry import ModelRegistry

    print(f"removed {ModelRegistry().remove(args.name)}")
    return 0


def cmd_models_verify(args) -> int:
    from medvision_app.inference.registry import ModelRegistry

    registry = ModelRegistry()
    path = registry.resolve(args.model)
    verified, provenance = registry.inspect(path)
    card = verified.card
    print(f"{path}: OK  {card.name} v{card.version}, {len(card.classes)} classes, sha256 {card.graph_sha256}")
    print(f"provenance: {provenance.state}: {provenance.detail}")
    return 0
