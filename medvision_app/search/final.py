"""Retrain the architecture a search returned and evaluate it on the test split, as a run folder.

The folder is an ordinary training run: ``config.json`` is a complete
:class:`~medvision_app.training.config.TrainConfig` whose model is the
registered ``"genotype"`` or ``"enas"`` network (see
:mod:`medvision_app.networks.searched`), so ``medvision evaluate``,
``medvision export`` and prediction open it like any other run. Beside it:
``checkpoints/best.pt``, ``metrics.jsonl``, ``eval.json`` and
``predictions.csv``. Retraining checkpoints every epoch, so a search killed
during it resumes there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

from medvision_app import __version__
from medvision_app.data.config import DataConfig
from medvision_app.evaluation import evaluate, write_eval, write_predictions
from medvision_app.events import CancelToken, Emit, ignore
from medvision_app.networks import ModelConfig, build_model
from medvision_app.search.data import SearchData
from medvision_app.search.events import CandidateEpoch
from medvision_app.search.trainer import evaluate_arrays, fit, pick_device
from medvision_app.training.config import RunFacts, TrainConfig
from medvision_app.training.settings import EarlyStoppingConfig, TrainSettings
from medvision_app.utils.atomic import atomic_path, atomic_write_text
from medvision_app.utils.config_io import save_config


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
    description: str = "",
    emit: Emit = ignore,
    cancel: Optional[CancelToken] = None,
) -> dict:
    """Train from scratch, keep the best validation epoch, evaluate on test; return ``eval.json``'s dict.

    ``data_path`` is the search's dataset: the run's ``data.path``, from
    which ``medvision evaluate`` reads the test split again.
    """
    run_dir = Path(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = build_model(model_config, data.n_classes)
    data_path = str(Path(data_path).resolve())
    config = TrainConfig(
        data=DataConfig(path=data_path),
        model=model_config,
        # The loop below (search.trainer.fit) is not the engine: the cosine
        # schedule of ENAS retraining is recorded in the description only.
        train=TrainSettings(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, weight_decay=weight_decay,
                            seed=seed, device=device, early_stopping=EarlyStoppingConfig(patience=max(1, patience))),
        description=description,
        # The normalisation is the network's own, so evaluate and export repeat it.
        run=RunFacts(classes=list(data.class_names), data_path=data_path,
                     input_mean=[float(m) for m in model.input_mean], input_std=[float(v) for v in model.input_std],
                     train_samples=len(data.y_train), val_samples=len(data.y_val), test_samples=len(data.y_test),
                     medvision_version=__version__),
    )
    save_config(config, run_dir / "config.json")
    dev = pick_device(device)
    if optimizer == "sgdm":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs), eta_min=lr * 0.01)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        sched = None
    result = fit(
        model, opt, (data.x_train, data.y_train), (data.x_val, data.y_val), epochs=epochs, patience=patience,
        batch_size=batch_size, seed=seed, device=dev, checkpoint=run_dir / "checkpoints" / "last.pt",
        scheduler=sched, cancel=cancel, on_epoch=lambda e, a, l: emit(CandidateEpoch("final", e, a, l)),
    )
    atomic_write_text(run_dir / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in result.history))
    with atomic_path(run_dir / "checkpoints" / "best.pt") as tmp:
        torch.save({"model": model.state_dict()}, tmp)
    _loss, _acc, probs = evaluate_arrays(model, data.x_test, data.y_test, dev)
    report = evaluate(data.y_test, probs, data.class_names, n_resamples=200, seed=seed)
    report["split"] = "test"
    report["params"] = int(sum(p.numel() for p in model.parameters()))
    report["val_accuracy"] = result.val_accuracy
    report["epochs"] = result.epochs
    report["train_seconds"] = result.seconds
    write_eval(run_dir / "eval.json", report)
    ids = [f"test_{i:05d}" for i in range(len(data.y_test))]
    write_predictions(run_dir / "predictions.csv", ids, data.y_test, probs, data.class_names)
    return report
