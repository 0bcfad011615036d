"""A training run folder -> its ``.onnx`` model file with a complete model card.

Reads ``config.json`` (the full TrainConfig), the checkpoint (``torch.load``
with ``weights_only=True``: a run folder is the user's own, but nothing is
unpickled even so), ``eval.json`` for the metrics, and a few real samples of
the run's test split (else validation) for the numerical check, preprocessed
by the very code :func:`~medvision_app.inference.predict.predict` uses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from medvision_app.events import CancelToken, Emit, Progress, ignore
from medvision_app.inference.card import MetricValue, ModelCard, TrainingData
from medvision_app.inference.errors import ModelError
from medvision_app.inference.hashing import file_list_sha256
from medvision_app.utils.config_io import ConfigError, load_config, to_dict

CHECK_SAMPLES = 8
HEADLINE_METRICS = ("accuracy", "balanced_accuracy", "auc", "macro_f1")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    card: ModelCard
    diffs: dict[str, float]
    checked: int


def load_run(run_dir: str | Path, checkpoint: str = "best"):
    """Rebuild a run's network with its trained weights; returns ``(net, TrainConfig)`` (net in eval mode)."""

    from medvision_app.networks import build_model
    from medvision_app.training.config import TrainConfig

    run_dir = Path(run_dir)
    try:
        config = load_config(TrainConfig, run_dir / "config.json")
    except ConfigError as exc:
        raise ModelError(run_dir, f"not a training run: {exc}") from None
    if not config.run.classes:
        raise ModelError(run_dir, "config.json lists no classes (the run never started)")
    ckpt = run_dir / "checkpoints" / f"{checkpoint}.pt"
    if checkpoint not in ("best", "last") or not ckpt.is_file():
        raise ModelError(run_dir, f"no checkpoint {ckpt.name} in {ckpt.parent}")
    encoding = config.run.metadata_encoding
    net = build_model(config.model, len(config.run.classes),
                      metadata_features=encoding.n_features if encoding is not None else 0)
    from medvision_app.training.checkpoints import CheckpointError, read_checkpoint

    try:
        state = read_checkpoint(ckpt)  # weights_only; any damage is a CheckpointError naming the file
    except CheckpointError as exc:
        raise ModelError(ckpt, str(exc).removeprefix(f"{ckpt}: ")) from None
    try:
        net.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise ModelError(ckpt, f"checkpoint does not fit the run's network: {str(exc).splitlines()[0]}") from None
    return net.eval(), config


def _metrics(run_dir: Path) -> tuple[dict[str, MetricValue], str]:
    path = run_dir / "eval.json"
    if not path.is_file():
        return {}, ""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(path, f"unreadable evaluation report: {exc}") from None
    ci = report.get("ci", {}) or {}
    out = {}
    for name in HEADLINE_METRICS:
        value = report.get(name)
        if value is None:
            continue
        bounds = ci.get(name) or {}
        out[name] = MetricValue(float(value), bounds.get("low"), bounds.get("high"))
    out.update(_calibration_metrics(report))
    return out, f"{report.get('split', 'test')} split, n = {report.get('n_samples', '?')}"


def _calibration_metrics(report: dict) -> dict[str, MetricValue]:
    """ECE after temperature scaling and the figures at the operating threshold, when the run has them."""
    out = {}
    ece = (report.get("calibration") or {}).get("ece_after")
    if isinstance(ece, (int, float)):
        out["ece"] = MetricValue(float(ece))
    test = (report.get("operating_threshold") or {}).get("test") or {}
    for name in ("accuracy", "balanced_accuracy", "sensitivity", "specificity"):
        value = test.get(name)
        if isinstance(value, (int, float)):
            bounds = (test.get("ci") or {}).get(name) or {}
            out[f"{name}_at_threshold"] = MetricValue(float(value), bounds.get("low"), bounds.get("high"))
    return out


def _operating_facts(run_dir: Path, config, n_classes: int) -> dict:
    """The card's ``threshold``, ``temperature``, ``logit_offsets`` and ``tta`` from the run
    (eval.json, operating_point.json)."""
    from medvision_app.evaluation.threshold_store import load_threshold

    facts: dict = {"tta": config.eval.tta}
    try:
        report = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = {}
    temperature = ((report.get("calibration") or {}) if isinstance(report, dict) else {}).get("temperature")
    if isinstance(temperature, (int, float)) and temperature > 0:
        facts["temperature"] = float(temperature)
    offsets = ((report.get("prior_adjustment") or {}) if isinstance(report, dict) else {}).get("offsets")
    if isinstance(offsets, list) and len(offsets) == n_classes and any(offsets):
        facts["logit_offsets"] = [float(v) for v in offsets]
    threshold = load_threshold(run_dir)  # the chosen one, or the one saved from the dashboard
    if threshold is not None and n_classes == 2:
        facts["threshold"] = threshold
    return facts


def _check_samples(config, card: ModelCard):
    """Real model inputs (and metadata) from the run's test split, else validation."""
    from medvision_app.data.prepare import split_table
    from medvision_app.data.sources import read_source
    from medvision_app.inference.predict import preprocess

    table = read_source(config.data, Path(config.data.path))
    parts = split_table(table, config.data)
    part = parts["test"] if len(parts["test"]) else parts["val"]
    sample = part.subset(np.arange(min(CHECK_SAMPLES, len(part))))
    pipeline = card.pipeline()
    tensors = []
    for i in range(len(sample)):
        tensors.append(preprocess(sample.display(i), card, pipeline)[0])
    metadata = None
    encoding = config.run.metadata_encoding
    if encoding is not None:
        metadata = encoding.encode_many(sample.age, sample.sex, sample.site, len(sample))
    return np.stack(tensors), metadata, table, parts


def _training_data(config, table, parts) -> TrainingData:
    counts = {
        split: {name: int(np.sum(part.labels == k)) for k, name in enumerate(table.class_names)}
        for split, part in parts.items()
    }
    names = [f"{split}:{sample_id}" for split, part in parts.items() for sample_id in part.ids]
    ratios = ", ".join(f"{r:g}" for r in config.data.split.ratios)
    split = ("the source's own split" if table.splits is not None and config.data.split.use_predefined
             else f"grouped stratified split {ratios} (seed {config.data.split.seed})")
    if config.data.limit:
        split += f", at most {config.data.limit} samples per split"
    # The file name only: the card travels, the training machine's folders need not.
    fmt = f" ({config.data.format})" if config.data.format != "auto" else ""
    return TrainingData(source=f"{Path(config.data.path).name}{fmt}", split=split,
                        class_counts=counts, file_list_sha256=file_list_sha256(names))


def _first_dicom_facts(parts) -> tuple[Optional[str], Optional[str]]:
    """Modality and body part of the first training file that is DICOM (headers only), else Nones."""
    from medvision_app.imaging import ImageOpenError
    from medvision_app.imaging.dicom_header import metadata_from_dataset
    from medvision_app.imaging.dicom_reader import read_dataset

    paths = getattr(parts.get("train"), "paths", None)
    for path in list(paths or [])[:1]:
        try:
            meta = metadata_from_dataset(read_dataset(Path(path), stop_before_pixels=True))
        except ImageOpenError:  # a raster file (or no regular file): nothing to infer
            return None, None
        return meta.modality, meta.body_part
    return None, None


def _with_intended_use(card, config, parts, modalities, body_part, input_description):
    import dataclasses

    from medvision_app.inference.intended_use import infer_intended_use

    modality, part = _first_dicom_facts(parts)
    guess = infer_intended_use(Path(config.data.path).name, modality, part)
    return dataclasses.replace(
        card,
        modalities=list(modalities) if modalities else guess[0],
        body_part=body_part if body_part is not None else guess[1],
        input_description=input_description if input_description is not None else guess[2],
    )


def export_run(
    run_dir: str | Path,
    out: Optional[str | Path] = None,
    *,
    checkpoint: str = "best",
    name: Optional[str] = None,
    version: str = "1",
    licence: str = "",
    citation: str = "",
    limitations: Optional[list[str]] = None,
    modalities: Optional[list[str]] = None,
    body_part: Optional[str] = None,
    input_description: Optional[str] = None,
    emit: Emit = ignore,
    cancel: Optional[CancelToken] = None,
) -> ExportResult:
    """Export ``run_dir`` to ``out`` (default ``run_dir/model.onnx``); see :func:`export_module`.

    ``modalities``, ``body_part`` and ``input_description`` (the card's
    intended use) are inferred from the training data where not given
    (:func:`~medvision_app.inference.intended_use.infer_intended_use`).

    ``emit`` receives :class:`~medvision_app.events.Progress` for the three
    steps (load the run, read check samples, export and check); ``cancel`` is
    checked between them and raises :class:`~medvision_app.events.Cancelled`.

    Raises
    ------
    ModelError
        Not a run, no checkpoint, the export differs from PyTorch, or it fails verification.
    """
    from medvision_app.data import DataError
    from medvision_app.imaging import ImageOpenError
    from medvision_app.inference.export import export_module

    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "model.onnx"
    emit(Progress(0, 3, "loading the run"))
    net, config = load_run(run_dir, checkpoint)
    size = int(config.model.input_size)
    encoding = config.run.metadata_encoding
    metrics, evaluated_on = _metrics(run_dir)
    card = ModelCard(
        name=name or run_dir.resolve().name,
        version=version,
        classes=list(config.run.classes),
        input_size=(size, size),
        input_channels=int(config.model.in_channels),
        preprocessing=to_dict(config.preprocessing),
        input_mean=list(config.run.input_mean),
        input_std=list(config.run.input_std),
        architecture=(f"ensemble of {config.model.ensemble} " if config.model.ensemble > 1 else "") + config.model.name
        + (" + Soft-Attention" if getattr(net, "has_attention", False) else ""),
        attention=bool(getattr(net, "has_attention", False)),
        metadata_features=encoding.n_features if encoding is not None else 0,
        metadata_encoding=to_dict(encoding) if encoding is not None else {},
        metrics=metrics,
        **_operating_facts(run_dir, config, len(config.run.classes)),
        limitations=list(limitations or []) + ([f"Metrics measured on the {evaluated_on}."] if evaluated_on else []),
    )
    if cancel is not None:
        cancel.raise_if_cancelled()
    emit(Progress(1, 3, "reading real samples for the check"))
    try:
        images, metadata, table, parts = _check_samples(config, card)
    except (DataError, ImageOpenError, OSError) as exc:
        raise ModelError(run_dir, f"cannot read real samples for the export check: {exc}") from None
    data = _training_data(config, table, parts)
    card = _with_intended_use(card, config, parts, modalities, body_part, input_description)
    card.training_data = TrainingData(source=data.source, licence=licence, citation=citation, split=data.split,
                                      class_counts=data.class_counts, file_list_sha256=data.file_list_sha256)
    if cancel is not None:
        cancel.raise_if_cancelled()
    emit(Progress(2, 3, "exporting and checking against PyTorch"))
    path, diffs = export_module(net, card, images, out, metadata=metadata)
    from medvision_app.inference.model import verify_model

    result = ExportResult(path, verify_model(path).card, diffs, len(images))
    emit(Progress(3, 3, f"exported {path.name}"))
    return result
