"""Retrain the architecture a search returned and evaluate it on the test split, as a run folder.

The folder has the layout of a training run: ``config.json``,
``checkpoints/best.pt``, ``metrics.jsonl``, ``eval.json`` and
``predictions.csv``. Retraining checkpoints every epoch, so a search killed
during it resumes there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from medvision_app.evaluation import evaluate, write_eval, write_predictions
from medvision_app.events import CancelToken, Emit, ignore
from medvision_app.search.data import SearchData
from medvision_app.search.events import CandidateEpoch
from medvision_app.search.trainer import evaluate_arrays, fit, pick_device
from medvision_app.utils.atomic import atomic_path, atomic_write_text


def retrain_and_evaluate(
    make_model: Callable[[], nn.Module],
    description: dict,
    data: SearchData,
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
    emit: Emit = ignore,
    cancel: Optional[CancelToken] = None,
) -> dict:
    """Train from scratch, keep the best validation epoch, evaluate on test; return ``eval.json``'s dict.

    ``description`` (the genotype or cells, the input shape, the classes) goes
    into ``config.json`` so that the model can be rebuilt from the folder.
    """
    run_dir = Path(run_dir)
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    config = {
        "kind": "search-final", "model": description,
        "train": {"optimizer": optimizer, "lr": lr, "weight_decay": weight_decay, "epochs": epochs,
                  "patience": patience, "batch_size": batch_size, "seed": seed},
        "class_names": data.class_names, "input_shape": list(data.input_shape),
    }
    atomic_write_text(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
    torch.manual_seed(seed)
    model = make_model()
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
        torch.save({"model": model.state_dict(), "description": description, "class_names": data.class_names}, tmp)
    _loss, _acc, probs = evaluate_arrays(model, data.x_test, data.y_test, dev)
    report = evaluate(data.y_test, probs, data.class_names, n_resamples=200, seed=seed)
    report["params"] = int(sum(p.numel() for p in model.parameters()))
    report["val_accuracy"] = result.val_accuracy
    report["epochs"] = result.epochs
    report["train_seconds"] = result.seconds
    write_eval(run_dir / "eval.json", report)
    ids = [f"test_{i:05d}" for i in range(len(data.y_test))]
    write_predictions(run_dir / "predictions.csv", ids, data.y_test, probs, data.class_names)
    return report
