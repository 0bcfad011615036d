"""The final retraining loop: in-memory arrays, an optional LR schedule, per-epoch checkpoint.

Candidates train on :class:`medvision_app.training.engine.Trainer`; the
returned architecture's retraining uses this loop instead because ENAS
retrains with a cosine schedule, which the engine does not offer. Its
checkpoint holds everything needed to continue after a kill: weights,
optimiser, schedule, best weights so far, patience counter and history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from medvision_app.events import CancelToken
from medvision_app.training.checkpoints import CheckpointError, read_checkpoint
from medvision_app.utils.atomic import atomic_path


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class FitResult:
    val_accuracy: float
    val_loss: float
    epochs: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    best_state: dict = field(default_factory=dict)


def evaluate_arrays(model: nn.Module, x: np.ndarray, y: np.ndarray, device: torch.device, batch_size: int = 256) -> tuple[float, float, np.ndarray]:
    """Mean cross-entropy, accuracy and softmax probabilities ``(N, classes)`` float32."""
    model.eval()
    loss_sum, probs = 0.0, []
    criterion = nn.CrossEntropyLoss(reduction="sum")
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(x[start:start + batch_size]).to(device)
            yb = torch.from_numpy(y[start:start + batch_size]).to(device)
            logits = model(xb)
            loss_sum += float(criterion(logits, yb))
            probs.append(torch.softmax(logits, dim=1).float().cpu().numpy())
    p = np.concatenate(probs) if probs else np.zeros((0, 1), np.float32)
    acc = float((p.argmax(1) == y).mean()) if len(y) else 0.0
    return loss_sum / max(1, len(x)), acc, p


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data_train: tuple[np.ndarray, np.ndarray],
    data_val: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    patience: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    checkpoint: Optional[Path] = None,
    scheduler: Optional[torch.optim.lr_scheduler.LRScheduler] = None,
    on_epoch: Callable[[int, float, float], None] = lambda e, a, l: None,
    cancel: Optional[CancelToken] = None,
) -> FitResult:
    """Train with early stopping on the validation loss; return the best epoch's figures.

    The model ends with the best epoch's weights. With ``checkpoint`` the
    state is saved atomically after every epoch and picked up again if the
    file exists, so a killed run loses at most the epoch in flight.
    """
    x_tr, y_tr = data_train
    model.to(device)
    criterion = nn.CrossEntropyLoss()
    state = {"epoch": 0, "best_loss": float("inf"), "best_acc": 0.0, "best_epoch": 0, "bad": 0,
             "history": [], "seconds": 0.0, "best_state": None}
    saved = None
    if checkpoint is not None and checkpoint.is_file():
        try:
            saved = read_checkpoint(checkpoint)
        except CheckpointError:
            saved = None  # damaged (a disk full, a copy cut short): this candidate trains again from epoch 1
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None and saved.get("scheduler"):
            scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
    while state["epoch"] < epochs and state["bad"] < patience:
        if cancel is not None:
            cancel.raise_if_cancelled()
        started = time.perf_counter()
        epoch = state["epoch"]
        model.train()
        order = np.random.default_rng([seed, epoch]).permutation(len(x_tr))
        for start in range(0, len(order), batch_size):
            if cancel is not None:
                cancel.raise_if_cancelled()
            idx = order[start:start + batch_size]
            xb = torch.from_numpy(x_tr[idx]).to(device)
            yb = torch.from_numpy(y_tr[idx]).to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        val_loss, val_acc, _ = evaluate_arrays(model, data_val[0], data_val[1], device)
        state["epoch"] = epoch + 1
        state["history"].append({"epoch": epoch + 1, "val_loss": val_loss, "val_accuracy": val_acc})
        if val_loss < state["best_loss"]:
            state.update(best_loss=val_loss, best_acc=val_acc, best_epoch=epoch + 1, bad=0)
            state["best_state"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            state["bad"] += 1
        state["seconds"] += time.perf_counter() - started
        if checkpoint is not None:
            payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                       "scheduler": scheduler.state_dict() if scheduler is not None else None, "state": state}
            with atomic_path(checkpoint) as tmp:
                torch.save(payload, tmp)
        on_epoch(epoch + 1, val_acc, val_loss)
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    return FitResult(
        val_accuracy=float(state["best_acc"]), val_loss=float(state["best_loss"]), epochs=int(state["epoch"]),
        seconds=float(state["seconds"]), history=list(state["history"]), best_state=state["best_state"] or {},
    )
