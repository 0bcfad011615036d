"""The evaluation report of a run or search folder: data, configuration, curves, confusion
matrices, ROC/PR with bands, calibration and the per-class table with intervals; for a search,
its tree, Pareto plot and the chosen architecture."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

from reportlab.lib.units import mm
from reportlab.platypus import Image, KeepTogether, Paragraph, Spacer

from medvision_app.evaluation.analysis import RunAnalysis, analyse
from medvision_app.evaluation.run_folder import (
    RunFolderError,
    SearchResults,
    is_run_folder,
    is_search_folder,
    load_run,
    load_search,
)
from medvision_app.reports import figures
from medvision_app.reports.pdf import MARGIN, PAGE, esc, grid_table, key_value_table, render_pdf, styles, write_pdf

WIDTH = PAGE[0] - 2 * MARGIN


def _image(data: bytes, width: float) -> Image:
    img = Image(io.BytesIO(data))
    scale = width / img.imageWidth
    img.drawWidth, img.drawHeight = width, img.imageHeight * scale
    return img


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _with_interval(cell: dict) -> str:
    if cell.get("value") is None:
        return "-"
    if cell.get("low") is None:
        return _fmt(cell["value"])
    return f"{cell['value']:.3f} ({cell['low']:.3f}-{cell['high']:.3f})"


def _data_rows(a: RunAnalysis) -> list[tuple[str, str]]:
    cfg = a.run.config
    data = cfg.get("data", {}) if isinstance(cfg.get("data"), dict) else {}
    facts = cfg.get("run", {}) if isinstance(cfg.get("run"), dict) else {}
    split = data.get("split", {}) if isinstance(data.get("split"), dict) else {}
    if split.get("use_predefined", True):
        how = "the data set's own split where it has one"
        if split.get("ratios"):
            how += f", else stratified ratios {split.get('ratios')} (seed {split.get('seed')})"
    else:
        how = f"stratified random split, ratios {split.get('ratios')} (seed {split.get('seed')})"
    counts = {c: int((a.run.y_true == i).sum()) for i, c in enumerate(a.run.classes)}
    rows = [
        ("Run folder", a.run.run_dir.name),
        ("Classes", ", ".join(a.run.classes)),
        ("Data", Path(str(data.get("path") or facts.get("data_path") or "?")).name),
        ("Samples", f"train {facts.get('train_samples', '?')}, validation {facts.get('val_samples', '?')}, "
                    f"test {facts.get('test_samples', '?')}"),
        ("Evaluated split", f"{a.run.eval.get('split', 'test')}: "
                            + ", ".join(f"{c} {n}" for c, n in counts.items())),
        ("How the split was made", how),
    ]
    if facts.get("skipped_images"):
        rows.append(("Unreadable images left out", str(facts["skipped_images"])))
    return rows


_TRAINING_EXTRAS = (("schedule", "schedule"), ("label_smoothing", "label smoothing"), ("mixup_alpha", "mixup alpha"))
_SCALAR_TRANSFORMS = ("horizontal_flip", "vertical_flip", "invert")


def _augmentation_summary(aug: dict) -> str:
    """The transforms a run really applied (probability above 0), then the user's note."""
    parts = []
    for key, value in aug.items():
        if isinstance(value, dict):
            probability = value.get("probability") or 0
        elif key in _SCALAR_TRANSFORMS and isinstance(value, (int, float)):
            probability = value
        else:
            continue
        if probability > 0:
            parts.append(f"{key.replace('_', ' ')} p={probability:g}")
    summary = ", ".join(parts) or "none"
    note = aug.get("description")
    return f"{summary} ({note})" if note else summary


def _config_rows(cfg: dict) -> list[tuple[str, str]]:
    model = cfg.get("model", {}) if isinstance(cfg.get("model"), dict) else {}
    train = cfg.get("train", {}) if isinstance(cfg.get("train"), dict) else {}
    pre = cfg.get("preprocessing", {}) if isinstance(cfg.get("preprocessing"), dict) else {}
    aug = cfg.get("augmentation", {}) if isinstance(cfg.get("augmentation"), dict) else {}
    arch = model.get("architecture", {}) if isinstance(model.get("architecture"), dict) else {}
    rows = [
        ("Network", f"{model.get('name', '?')}, input {model.get('input_size', '?')} px, "
                    f"{model.get('in_channels', '?')} channel(s), pretrained: {model.get('pretrained', '?')}, "
                    f"Soft-Attention: {model.get('soft_attention', False)}"),
    ]
    if arch.get("text"):
        rows.append(("Architecture", arch["text"]))
    rows.append(("Training", f"{train.get('epochs', '?')} epochs, batch {train.get('batch_size', '?')}, "
                             f"{train.get('optimizer', '?')} lr {train.get('lr', '?')}, loss {train.get('loss', '?')}, "
                             f"seed {train.get('seed', '?')}"
                             + "".join(f", {label} {train[key]}" for key, label in _TRAINING_EXTRAS
                                       if train.get(key) not in (None, "", 0, 0.0, "none", False))))
    steps = [s.get("op", s.get("name", "?")) if isinstance(s, dict) else str(s) for s in pre.get("steps", []) or []]
    rows.append(("Preprocessing", ", ".join(steps) or "none"))
    rows.append(("Augmentation", _augmentation_summary(aug)))
    if cfg.get("description"):
        rows.append(("Description", str(cfg["description"])))
    return rows


def _per_class_table(a: RunAnalysis):
    header = ["class", "n", "sensitivity", "specificity", "PPV", "NPV", "F1", "AUC"]
    rows = []
    for name in a.run.classes:
        row = a.table[name]
        rows.append([name, str(row["support"])] + [_with_interval(row[m]) for m in
                                                    ("sensitivity", "specificity", "ppv", "npv", "f1", "auc")])
    widths = [28 * mm, 10 * mm] + [(WIDTH - 38 * mm) / 6] * 6
    return grid_table(header, rows, widths, font_size=7)


def _sweep_table(a: RunAnalysis):
    sweep = a.sweep
    rows = []
    for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        i = int(round(t * 100))
        rows.append([f"{t:.1f}", _fmt(sweep["sensitivity"][i]), _fmt(sweep["specificity"][i]),
                     _fmt(sweep["ppv"][i]), _fmt(sweep["npv"][i])])
    return grid_table(["threshold", "sensitivity", "specificity", "PPV", "NPV"], rows, [WIDTH / 5] * 5)


def run_story(a: RunAnalysis, *, heading: str = "") -> list:
    st = styles()
    story: list = []
    if heading:
        story.append(Paragraph(esc(heading), st["h2"]))
    story += [Paragraph("Data", st["h2"]), key_value_table(_data_rows(a)),
              Paragraph("Configuration", st["h2"]), key_value_table(_config_rows(a.run.config))]
    ci_note = f"Intervals: 95 % percentile bootstrap, {a.n_resamples} resamples of the test samples."
    acc = a.run.eval.get("ci", {}) if isinstance(a.run.eval.get("ci"), dict) else {}
    summary = [f"accuracy {a.accuracy:.3f}"]
    if isinstance(acc.get("accuracy"), dict):
        summary[0] += f" ({acc['accuracy']['low']:.3f}-{acc['accuracy']['high']:.3f})"
    if a.roc:
        summary += [f"AUC ({c.label}) {c.area:.3f} ({_fmt(c.area_low)}-{_fmt(c.area_high)})" for c in a.roc[:3]]
    story.append(Paragraph("Results: " + esc("; ".join(summary)) + ". " + esc(ci_note), st["body"]))
    if a.threshold is not None:
        story.append(Paragraph(esc(f"Operating threshold {a.threshold:.2f} on {a.run.classes[a.positive]}."),
                               st["body"]))
    story.append(Paragraph("Training curves", st["h2"]))
    story.append(_image(figures.png(lambda ax: figures.draw_history(ax, a.run.history), size=(7.0, 2.6)), WIDTH * 0.9))
    cm = a.confusion
    classes = a.run.classes
    story.append(KeepTogether([
        Paragraph("Confusion matrix", st["h2"]),
        _image(figures.png(lambda axs: (figures.draw_confusion(axs[0], cm, classes),
                                        figures.draw_confusion(axs[1], cm, classes, normalised=True)),
                           size=(7.0, 3.0), axes=2), WIDTH * 0.85)]))
    story.append(KeepTogether([
        Paragraph("ROC and precision-recall", st["h2"]),
        _image(figures.png(lambda axs: (figures.draw_curves(axs[0], a.roc, kind="roc"),
                                        figures.draw_curves(axs[1], a.pr, kind="pr")),
                           size=(7.4, 3.4), axes=2), WIDTH)]))
    story.append(KeepTogether([
        Paragraph("Calibration", st["h2"]),
        _image(figures.png(lambda ax: figures.draw_reliability(ax, a.calibration), size=(4.2, 3.2)), WIDTH * 0.55)]))
    story.append(KeepTogether([Paragraph("Per-class metrics", st["h2"]), _per_class_table(a),
                               Paragraph(esc(ci_note + " PPV and NPV at the evaluated prevalence."), st["small"])]))
    if a.sweep is not None:
        story.append(KeepTogether([
            Paragraph(esc(f"Operating points ({classes[a.positive]} called at probability >= threshold)"), st["h2"]),
            _sweep_table(a),
            Paragraph(esc(f"Youden's J is highest at threshold {a.sweep['best_youden_threshold']:.2f}."),
                      st["small"])]))
    return story


def search_story(search: SearchResults) -> list:
    st = styles()
    summary = search.summary
    records = search.history or [n for nodes in (summary.get("tree") or {}).values() for n in nodes]
    story = [Paragraph("Search", st["h2"])]
    result = summary.get("result") or {}
    rows = [("Method", str(summary.get("method", "?"))),
            ("Stopped", f"{summary.get('stop_reason', '?')} after {summary.get('candidates', len(records))} candidates"),
            ("Chosen architecture", str(result.get("genotype", "?")))]
    if result.get("params") is not None:
        rows.append(("Its size and accuracy", f"{result['params']:,} parameters, validation accuracy "
                                              f"{_fmt(result.get('val_accuracy'), 4)}"))
    story.append(key_value_table(rows))
    front = summary.get("pareto_front") or []
    story.append(_image(figures.png(lambda axs: (figures.draw_search_tree(axs[0], records),
                                                 figures.draw_pareto(axs[1], records, front)),
                                    size=(7.4, 3.2), axes=2), WIDTH))
    if front:
        story.append(grid_table(["model", "parameters", "val accuracy", "genotype"],
                                [[str(r.get("id")), f"{r.get('params', 0):,}", _fmt(r.get("val_accuracy"), 4),
                                  str(r.get("genotype"))] for r in front],
                                [20 * mm, 25 * mm, 25 * mm, WIDTH - 70 * mm]))
    return story


def build_evaluation_report(folder: str | Path, *, n_resamples: int = 1000, threshold: Optional[float] = None,
                            positive: int = 0, seed: int = 0) -> bytes:
    """The PDF of a run folder (or of a search folder and its retrained final run).

    Raises :class:`RunFolderError` naming the file when the folder cannot be read.
    """
    folder = Path(folder)
    st = styles()
    if is_run_folder(folder):
        search, run = None, load_run(folder)
    elif is_search_folder(folder):
        search = load_search(folder)
        run = search.final
    elif not folder.is_dir():
        raise RunFolderError(f"{folder}: no such run folder")
    else:
        run = load_run(folder)  # raises, naming what is missing
        search = None
    title = f"Evaluation report: {folder.name}"
    story: list = [Paragraph(esc(title), st["title"])]
    if search is not None:
        story += search_story(search)
    if run is not None:
        analysis = analyse(run, n_resamples=n_resamples, threshold=threshold, positive=positive, seed=seed)
        story += run_story(analysis, heading="Final model" if search is not None else "")
    story.append(Spacer(1, 4 * mm))
    return render_pdf(story, title=title, subject="Evaluation of a MedVision model", header="MedVision evaluation report",
                      keywords=["MedVision", "evaluation", "decision support", "research use"])


def write_evaluation_report(folder: str | Path, out: str | Path, **options) -> Path:
    return write_pdf(out, build_evaluation_report(folder, **options))
