"""Retrain the architecture a search returned and evaluate it on the test split, as a run folder.

The folder is an ordinary training run: ``config.json`` is a complete
:class:`~medvision_app.training.config.TrainConfig` whose model is the
registered ``"genotype"`` or ``"enas"`` network (see
:mod:`medvision_app.networks.searched`), so ``medvision evaluate``,
``medvision export`` and prediction open it like any other run. Beside it:
``checkpoints/best.pt``, ``metrics.jsonl``, ``eval.json`` and
``predictions.csv``. Retraining runs on the training engine (the one loop
of the project; ENAS's cosine schedule and the best-epoch restore are its
handlers) and checkpoints every epoch, so a search killed during it resumes
there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from medvision_app import __version__
from medvision_app.augmentation import AugmentationConfig, build_augmenter
from medvision_app.data.config import DataConfig
from medvision_app.data.dataset import InMemoryDataset
from medvision_app.evaluation import evaluate, write_eval, write_predictions
from medvision_app.evaluation.settings import EvalSettings
from medvision_app.events import Cancelled, CancelToken, Emit, ignore
from medvision_app.networks import ModelConfig, build_model
from medvision_app.networks.searched import load_search_weights
from medvision_app.search.data import SearchData
from medvision_app.search.events import CandidateEpoch
from medvision_app.search.state import SearchStateError
from medvision_app.training.checkpoints import LAST, CheckpointError, read_checkpoint
from medvision_app.training.config import RunFacts, TrainConfig
from medvision_app.training.engine import Trainer
from medvision_app.training.events import EpochFinished
from medvision_app.training.finish import (
    calibrate,
    check_eval_settings,
    predict_logits,
    validation_fit,
    write_operating_point,
)
from medvision_app.training.handlers import Checkpointer, EarlyStopping, MetricsLogger
from medvision_app.training.schedules import BestWeights, CosineSchedule
from medvision_app.training.settings import EarlyStoppingConfig, TrainSettings
from medvision_app.utils.config_io import save_config, to_dict


def final_model_config(data: SearchData, **fields) -> ModelConfig:
    """The ModelConfig of a searched network for ``data``'s images (``fields``: name, architecture)."""
    channels, height, width = data.input_shape
    if height != width:
        raise ValueError(f"searched networks take square images, the data are {height}x{width}")
    return ModelConfig(pretrained="none", input_size=height, in_channels=channels, **fields)


def retrain_and_evaluate(
    model_config: ModelConfig,
    data: SearchData,
    data_path: str,
    run_dir: Path,
    *,
    optimizer: str = "adam",
    lr: float = 0.001,
    weight_decay: float = 1e-4,
    epochs: int = 30,
    patience: int = 5,
    batch_size: int = 64,
    seed: int = 0,
    device: str = "auto",
    cosine: bool = False,
    eval_settings: Optional[EvalSettings] = None,
    ema_decay: float = 0.0,
    augmentation: Optional[AugmentationConfig] = None,
    initial_weights: Optional[dict] = None,
    description: str = "",
    emit: Emit = ignore,
    cancel: Optional[CancelToken] = None,
) -> dict:
    """Train from scratch, keep the best validation epoch, evaluate on test; return ``eval.json``'s dict.

    ``data_path`` is the search's dataset: the run's ``data.path``, from
    which ``medvision evaluate`` reads the test split again. ``cosine``
    anneals the rate from ``lr`` to ``lr / 100`` over ``epochs`` (ENAS).
    ``eval_settings`` (test-time flips, temperature, operating threshold) are
    applied as a training run applies its ``eval`` section, and saved in the
    run's config, so the export and ``medvision evaluate`` repeat them.
    ``ema_decay``: the retraining keeps the moving average of its weights
    (``train.ema_decay``) instead of the last step's.
    ``augmentation``: random transforms of the training images, as a
    training run's ``augmentation`` section (saved in the run's config).
    ``initial_weights``: the state dict the search trained for a genotype
    answer, to start from instead of new weights.
    Raises :class:`Cancelled` when ``cancel`` fires; the run folder resumes.
    """
    run_dir = Path(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = build_model(model_config, data.n_classes)
    if initial_weights is not None:
        load_search_weights(model, initial_weights)
    data_path = str(Path(data_path).resolve())
    settings = TrainSettings(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                             weight_decay=weight_decay, seed=seed, device=device, deterministic=False,
                             ema_decay=ema_decay,
                             early_stopping=EarlyStoppingConfig(patience=max(1, patience)))
    eval_settings = eval_settings or EvalSettings()
    augmentation = augmentation or AugmentationConfig()
    config = TrainConfig(
        data=DataConfig(path=data_path),
        model=model_config,
        train=settings,
        eval=eval_settings,
        augmentation=augmentation,
        description=description,
        # The normalisation is the network's own, so evaluate and export repeat it.
        run=RunFacts(classes=list(data.class_names), data_path=data_path,
                     input_mean=[float(m) for m in model.input_mean], input_std=[float(v) for v in model.input_std],
                     train_samples=len(data.y_train), val_samples=len(data.y_val), test_samples=len(data.y_test),
                     train_class_counts=np.bincount(data.y_train, minlength=data.n_classes).tolist(),
                     medvision_version=__version__),
    )
    try:
        check_eval_settings(config, list(data.class_names))
    except ValueError as exc:
        raise ValueError(f"search final.eval: {exc}") from None
    last = run_dir / "checkpoints" / LAST
    resumed = _resumable(last, to_dict(config))
    save_config(config, run_dir / "config.json")

    def relay(event) -> None:
        if isinstance(event, EpochFinished):
            m = event.metrics
            emit(CandidateEpoch("final", event.epoch, float(m.get("val_accuracy", 0.0)), float(m.get("val_loss", 0.0))))

    train = InMemoryDataset(data.x_train, data.y_train,
                            augment=None if augmentation.is_identity else build_augmenter(augmentation), seed=seed)
    trainer = Trainer(model, train, InMemoryDataset(data.x_val, data.y_val),
                      settings, num_classes=data.n_classes, config=to_dict(config), run_dir=str(run_dir),
                      emit=relay, cancel=cancel, default_handlers=False)
    if optimizer == "sgdm":
        # ENAS's authors retrain with Nesterov momentum; the engine's SGD reads the flag per group
        for group in trainer.optimizer.param_groups:
            group["nesterov"] = True
    if cosine:
        trainer.attach(CosineSchedule(lr, lr * 0.01, epochs))
    # BestWeights before Checkpointer: an epoch's checkpoint holds that epoch's best weights.
    trainer.attach(MetricsLogger(run_dir / "metrics.jsonl"), EarlyStopping("val_loss", max(1, patience)),
                   BestWeights(), Checkpointer(run_dir / "checkpoints"))
    if resumed is not None:
        trainer.load_state_dict(resumed)
    result = trainer.run()
    if result.reason == "cancelled":
        raise Cancelled()
    device = next(model.parameters()).device
    test = InMemoryDataset(data.x_test, data.y_test)
    logits = predict_logits(model, test, device, tta=eval_settings.tta)
    val_fit = validation_fit(model, InMemoryDataset(data.x_val, data.y_val), eval_settings, device)
    labels = np.asarray(data.y_test)
    probs, extra = calibrate(config, list(data.class_names), val_fit, (logits, labels),
                             class_counts=config.run.train_class_counts)
    report = evaluate(labels, probs, data.class_names, n_resamples=200, seed=seed)
    report.update(extra)
    best = result.best_metrics or (result.history[-1] if result.history else {})
    report["split"] = "test"
    report["params"] = int(sum(p.numel() for p in model.parameters()))
    report["val_accuracy"] = float(best.get("val_accuracy", 0.0))
    report["epochs"] = result.epochs_run
    report["train_seconds"] = float(sum(float(h.get("seconds") or 0.0) for h in result.history))
    write_eval(run_dir / "eval.json", report)
    ids = [f"test_{i:05d}" for i in range(len(data.y_test))]
    write_predictions(run_dir / "predictions.csv", ids, data.y_test, probs, data.class_names)
    write_operating_point(run_dir, extra, list(data.class_names))
    return report


# What a retraining's checkpoint must share with the settings it is resumed under.
_SAME_ON_RESUME = ("model", "train", "eval", "augmentation")


def _resumable(last: Path, config: dict) -> Optional[dict]:
    """The checkpoint of a retraining to continue; None for none or a damaged one (start again).

    Raises :class:`SearchStateError` when it holds a retraining with other
    settings: continuing it would mix two runs, and starting over would
    overwrite one the user may want.
    """
    if not last.is_file():
        return None
    try:
        state = read_checkpoint(last)
    except CheckpointError:
        return None  # damaged: the retraining starts again from epoch 1
    saved = state.get("config") or {}
    changed = [k for k in _SAME_ON_RESUME if saved.get(k) != config.get(k)]
    if changed:
        run_dir = last.parent.parent
        raise SearchStateError(f"{run_dir} holds a retraining with other {' and '.join(changed)} settings; "
                               "remove the folder to retrain there, or retrain into another folder")
    return state
