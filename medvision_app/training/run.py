"""A run folder: start, resume and evaluate a training run described by a :class:`TrainConfig`.

Layout::

    RUN_DIR/config.json        the TrainConfig, with data.path made absolute and run facts filled in
    RUN_DIR/checkpoints/       last.pt (every epoch), previous.pt (the one before) and best.pt (best monitored epoch)
    RUN_DIR/.lock              held by the one job writing to the folder
    RUN_DIR/metrics.jsonl      one JSON line per epoch
    RUN_DIR/eval.json          metrics of the test split (see medvision_app.evaluation)
    RUN_DIR/predictions.csv    id, true and predicted label, one probability per class
    RUN_DIR/skipped.csv        images left out because they did not open (data.on_unreadable = "skip")
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from medvision_app import __version__
from medvision_app.data import DataError, PreparedData, prepare_data
from medvision_app.data.table import SPLITS
from medvision_app.evaluation import evaluate, write_eval, write_predictions
from medvision_app.events import CancelToken, Emit, ignore
from medvision_app.training.checkpoints import RESUME_ORDER, WEIGHTS_ORDER, first_usable
from medvision_app.training.config import RunFacts, TrainConfig
from medvision_app.training.engine import Trainer, TrainResult, cpu_threads, resolve_device
from medvision_app.training.errors import TrainingError
from medvision_app.training.events import CheckpointRecovered
from medvision_app.training.handlers import ProgressBar
from medvision_app.training.losses import probabilities
from medvision_app.training.rng import seed_everything
from medvision_app.utils.atomic import atomic_write_text
from medvision_app.utils.config_io import load_config, save_config, to_dict
from medvision_app.utils.folder_lock import LOCK_NAME, folder_lock

CONFIG_NAME = "config.json"
CHECKPOINT_DIR = "checkpoints"
SKIPPED_NAME = "skipped.csv"


def _write_skipped(path: Path, skipped: list[tuple[str, str]]) -> None:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "reason"])
    writer.writerows(skipped)
    atomic_write_text(path, buf.getvalue())


def project_root(start: Path) -> Optional[Path]:
    """The nearest folder at or above ``start`` holding ``pyproject.toml``."""
    for folder in [start, *start.parents]:
        if (folder / "pyproject.toml").is_file():
            return folder
    return None


def resolve_data_path(path: str, config_file: Optional[Path] = None) -> Path:
    """Resolve ``data.path``: absolute as is; relative against the working directory,
    then against the project root above the config file. Raises :class:`DataError`."""
    if not path:
        raise DataError("data.path is not set")
    candidate = Path(path).expanduser()
    if candidate.is_absolute():
        if not candidate.exists():
            raise DataError(f"{candidate}: no such file or folder (data.path)")
        return candidate
    bases = [Path.cwd()]
    if config_file is not None:
        root = project_root(Path(config_file).resolve().parent)
        if root is not None and root != bases[0]:
            bases.append(root)
    for base in bases:
        if (base / candidate).exists():
            return (base / candidate).resolve()
    raise DataError(f"{path}: no such file or folder (data.path, relative to {' or '.join(map(str, bases))})")


def _build_model(config: TrainConfig, num_classes: int, metadata_features: int) -> torch.nn.Module:
    from medvision_app.networks import build_model

    return build_model(config.model, num_classes, metadata_features=metadata_features)


def _normalization(model: torch.nn.Module) -> tuple[list[float], list[float]]:
    mean = getattr(model, "input_mean", None)
    std = getattr(model, "input_std", None)
    if mean is None or std is None:
        return [], []
    return [float(m) for m in mean], [float(s) for s in std]


def _prepare(config: TrainConfig, path: Path, splits, *, emit: Emit, cancel, encoding=None,
             models: Optional[list] = None) -> PreparedData:
    """Load the data; when ``models`` is a list, the model is built into it before any pixel is read."""
    preprocess = None
    if config.preprocessing.steps:
        from medvision_app.preprocessing import apply_pipeline

        def preprocess(img: np.ndarray) -> np.ndarray:
            return apply_pipeline(img, config.preprocessing)[0]

    from medvision_app.augmentation import build_augmenter

    augment = None if config.augmentation.is_identity else build_augmenter(config.augmentation)
    return prepare_data(
        config.data, path,
        input_size=config.model.input_size, in_channels=config.model.in_channels,
        preprocess=preprocess, augment=augment, seed=config.train.seed, splits=splits,
        metadata_encoding=encoding, emit=emit, cancel=cancel,
        before_pixels=None if models is None else _model_builder(config, models),
    )


def _model_builder(config: TrainConfig, models: list):
    def build(class_names: list[str], encoding) -> None:
        # Seeded here so the initial weights do not depend on how much data was read.
        seed_everything(config.train.seed)
        models.append(_build_model(config, len(class_names), encoding.n_features if encoding else 0))

    return build


def _trainer(config: TrainConfig, prepared: PreparedData, model: torch.nn.Module, run_dir: Path, *,
             emit: Emit, cancel: Optional[CancelToken], progress: bool) -> Trainer:
    mean, std = _normalization(model)
    for ds in prepared.datasets.values():
        ds.set_normalization(mean or None, std or None)
    config.run.input_mean, config.run.input_std = mean, std
    trainer = Trainer(
        model, prepared.datasets["train"], prepared.datasets.get("val"), config.train,
        num_classes=len(prepared.class_names), config=to_dict(config), run_dir=str(run_dir),
        emit=emit, cancel=cancel,
    )
    if progress:
        trainer.attach(ProgressBar())
    return trainer


@contextlib.contextmanager
def _run_folder(run_dir: Path, *, create: bool):
    """Hold ``run_dir``'s lock (creating the folder when ``create``); a folder this call
    created is removed again when the run is refused before writing anything of its own."""
    if run_dir.exists() and not run_dir.is_dir():
        raise TrainingError(f"{run_dir}: is a file, not a run folder; choose another --out")
    if not create and not run_dir.is_dir():
        raise TrainingError(f"{run_dir}: no such run folder")
    created = False
    if create and not run_dir.exists():
        try:
            run_dir.mkdir(parents=True)
        except OSError as exc:
            raise TrainingError(f"{run_dir}: cannot create the run folder: {exc.strerror or exc}") from None
        created = True
    try:
        with folder_lock(run_dir):
            yield run_dir
    except BaseException:
        if created:
            _remove_if_unused(run_dir)
        raise


def _remove_if_unused(run_dir: Path) -> None:
    # Only the lock and the job layer's event log: the run never started.
    leftovers = {LOCK_NAME, "events.jsonl"}
    with contextlib.suppress(OSError):
        if {p.name for p in run_dir.iterdir()} <= leftovers:
            for name in leftovers:
                with contextlib.suppress(FileNotFoundError):
                    (run_dir / name).unlink()
            run_dir.rmdir()


def start_run(
    config: TrainConfig,
    run_dir: Path,
    *,
    config_file: Optional[Path] = None,
    emit: Emit = ignore,
    cancel: Optional[CancelToken] = None,
    progress: bool = False,
) -> TrainResult:
    """Train ``config`` into the new folder ``run_dir``; evaluate the test split when finished.

    The folder is locked for the whole run (:mod:`medvision_app.utils.folder_lock`):
    a second job on it fails at once, naming the process that holds it.
    """
    run_dir = Path(run_dir)
    with _run_folder(run_dir, create=True):
        return _start_locked(config, run_dir, config_file=config_file, emit=emit, cancel=cancel,
                             progress=progress)


def _start_locked(config: TrainConfig, run_dir: Path, *, config_file: Optional[Path], emit: Emit,
                  cancel: Optional[CancelToken], progress: bool) -> TrainResult:
    if (run_dir / CONFIG_NAME).exists():
        raise TrainingError(f"{run_dir}: already holds a run; use --resume {run_dir} or another --out")
    data_path = resolve_data_path(config.data.path, config_file)
    config = replace(config, data=replace(config.data, path=str(data_path)))
    models: list = []
    prepared = _prepare(config, data_path, SPLITS, emit=emit, cancel=cancel, models=models)
    from medvision_app.training.finish import check_eval_settings

    try:
        check_eval_settings(config, list(prepared.class_names))
    except ValueError as exc:
        raise TrainingError(f"{config_file or run_dir}: {exc}") from None
    config.run = RunFacts(
        classes=list(prepared.class_names),
        data_path=str(data_path),
        metadata_encoding=prepared.metadata_encoding,
        train_samples=len(prepared.datasets["train"]),
        val_samples=len(prepared.datasets["val"]),
        test_samples=len(prepared.datasets["test"]),
        train_class_counts=_class_counts(prepared.datasets["train"], len(prepared.class_names)),
        skipped_images=len(prepared.skipped),
        medvision_version=__version__,
    )
    if prepared.skipped:
        _write_skipped(run_dir / SKIPPED_NAME, prepared.skipped)
    trainer = _trainer(config, prepared, models[0], run_dir, emit=emit, cancel=cancel, progress=progress)
    save_config(config, run_dir / CONFIG_NAME)
    result = trainer.run()
    if result.reason != "cancelled":
        _evaluate(config, prepared, trainer.model, run_dir, "test", emit=emit)
    return result


def resume_run(
    run_dir: Path, *, emit: Emit = ignore, cancel: Optional[CancelToken] = None, progress: bool = False
) -> TrainResult:
    """Continue the run in ``run_dir`` from its newest good checkpoint; evaluate when finished.

    ``last.pt`` first, then ``previous.pt`` (a ``CheckpointRecovered`` event
    says which file was passed over and why). A run with no usable
    checkpoint (killed in its first epoch) starts again from epoch 1 with
    the same seed, so it ends where an uninterrupted run would.
    """
    run_dir = Path(run_dir)
    with _run_folder(run_dir, create=False):
        config = load_config(TrainConfig, run_dir / CONFIG_NAME)
        models: list = []
        prepared = _prepare(config, Path(config.data.path), SPLITS, emit=emit, cancel=cancel,
                            encoding=config.run.metadata_encoding, models=models)
        _check_same_data(config, prepared)
        trainer = _trainer(config, prepared, models[0], run_dir, emit=emit, cancel=cancel, progress=progress)
        found = first_usable(run_dir / CHECKPOINT_DIR, RESUME_ORDER, _notice(emit, run_dir, RESUME_ORDER))
        if found is not None:
            trainer.load_state_dict(found[1])
        result = trainer.run()
        if result.reason != "cancelled":
            _evaluate(config, prepared, trainer.model, run_dir, "test", emit=emit)
        return result


def _notice(emit: Emit, run_dir: Path, order: tuple[str, ...]):
    """Report each damaged checkpoint with the file that will be tried next ("" for none)."""

    def notice(path: Path, reason: str) -> None:
        later = [run_dir / CHECKPOINT_DIR / n for n in order[order.index(path.name) + 1:]]
        using = next((str(p) for p in later if p.exists()), "")
        emit(CheckpointRecovered(str(path), reason, using))

    return notice


def _check_same_data(config: TrainConfig, prepared: PreparedData) -> None:
    if list(prepared.class_names) != list(config.run.classes):
        raise TrainingError(
            f"{config.data.path}: classes are now {prepared.class_names}, the run was trained on {config.run.classes}"
        )


def _load_weights(model: torch.nn.Module, run_dir: Path, emit: Emit = ignore) -> Path:
    """The best epoch's weights, else the newest good ones (with a ``CheckpointRecovered`` notice)."""
    found = first_usable(run_dir / CHECKPOINT_DIR, WEIGHTS_ORDER, _notice(emit, run_dir, WEIGHTS_ORDER))
    if found is None:
        raise TrainingError(f"{run_dir}: no usable checkpoint in {run_dir / CHECKPOINT_DIR}")
    path, state = found
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError) as exc:
        raise TrainingError(f"{path}: does not fit the run's network: {str(exc).splitlines()[0]}") from None
    return path


@torch.no_grad()
def predict_dataset(model: torch.nn.Module, dataset, device: torch.device, batch_size: int = 128) -> np.ndarray:
    """Class probabilities ``(N, C)`` float32 of an in-memory dataset."""
    model.eval().to(device)
    out = []
    for index in torch.arange(len(dataset)).split(batch_size):
        x, _, meta = dataset.batch(index, 0)
        x = x.to(device)
        logits = model(x) if meta is None else model(x, meta.to(device))
        out.append(probabilities(logits).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


def _class_counts(dataset, n_classes: int) -> list[int]:
    labels = np.asarray(dataset.labels, np.int64) if dataset is not None and len(dataset) else np.zeros(0, np.int64)
    return np.bincount(labels, minlength=n_classes).tolist()


def _evaluate(config: TrainConfig, prepared: PreparedData, model: torch.nn.Module, run_dir: Path, split: str,
              *, emit: Emit = ignore) -> dict:
    from medvision_app.training.finish import (
        calibrate,
        needs_validation,
        predict_logits,
        reestimate_best,
        validation_fit,
        write_operating_point,
    )

    dataset = prepared.datasets.get(split)
    if dataset is None or len(dataset) == 0:
        split = "val"
        dataset = prepared.datasets.get("val")
    if dataset is None or len(dataset) == 0:
        return {}
    device = resolve_device(config.train.device)
    batch = config.train.eval_batch_size or 128
    train = prepared.datasets.get("train")
    with cpu_threads(config.train.cpu_threads):
        if config.train.bn_reestimate and train is not None and len(train):
            reestimate_best(model, train, run_dir / CHECKPOINT_DIR, device, batch)
        _load_weights(model, run_dir, emit)
        tta = config.eval.tta
        logits = predict_logits(model, dataset, device, tta=tta, batch_size=batch)
        if split == "val":
            val_fit = (logits, dataset.labels.numpy()) if needs_validation(config.eval) else None
        else:
            val_fit = validation_fit(model, prepared.datasets.get("val"), config.eval, device, batch)
    labels = dataset.labels.numpy()
    try:
        # runs trained before the counts were recorded read them from the training split
        counts = config.run.train_class_counts or _class_counts(prepared.datasets.get("train"),
                                                                len(prepared.class_names))
        probs, extra = calibrate(config, prepared.class_names, val_fit, (logits, labels), class_counts=counts)
    except ValueError as exc:
        raise TrainingError(f"{run_dir}: {exc}") from None
    report = evaluate(labels, probs, prepared.class_names, seed=config.train.seed)
    report.update(extra)
    report["split"] = split
    report["evaluated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_eval(run_dir / "eval.json", report)
    write_predictions(run_dir / "predictions.csv", dataset.ids, labels, probs, prepared.class_names)
    write_operating_point(run_dir, extra, prepared.class_names)
    return report


def evaluate_run(run_dir: Path, split: str = "test", *, emit: Emit = ignore, cancel: Optional[CancelToken] = None) -> dict:
    """Re-create ``eval.json`` and ``predictions.csv`` of ``run_dir`` on ``split``."""
    if split not in SPLITS:
        raise TrainingError(f"split {split!r} is not one of {list(SPLITS)}")
    run_dir = Path(run_dir)
    with _run_folder(run_dir, create=False):
        config = load_config(TrainConfig, run_dir / CONFIG_NAME)
        models: list = []
        prepared = _prepare(config, Path(config.data.path), _evaluation_splits(config, split), emit=emit,
                            cancel=cancel, encoding=config.run.metadata_encoding, models=models)
        _check_same_data(config, prepared)
        if len(prepared.datasets[split]) == 0:
            raise TrainingError(f"{run_dir}: the {split} split is empty")
        model = models[0]
        for ds in prepared.datasets.values():
            ds.set_normalization(config.run.input_mean or None, config.run.input_std or None)
        return _evaluate(config, prepared, model, run_dir, split, emit=emit)


def _evaluation_splits(config: TrainConfig, split: str) -> tuple[str, ...]:
    """``split``, with validation for calibration and training for batch-norm re-estimation."""
    from medvision_app.training.finish import needs_validation

    wanted = {split}
    if needs_validation(config.eval):
        wanted.add("val")
    if config.train.bn_reestimate or (config.eval.prior_adjustment != "none" and not config.run.train_class_counts):
        wanted.add("train")
    return tuple(s for s in SPLITS if s in wanted)
