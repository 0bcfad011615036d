"""One BbNAS candidate: what to train (a task) and what came out (a result)."""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import torch

from medvision_app.data.dataset import InMemoryDataset
from medvision_app.events import Cancelled, CancelToken, Emit, ignore
from medvision_app.networks.builder import build
from medvision_app.networks.genotype import parse
from medvision_app.search.config import CandidateTraining
from medvision_app.search.data import SearchData
from medvision_app.search.events import CandidateEpoch
from medvision_app.training.engine import Trainer
from medvision_app.training.events import EpochFinished
from medvision_app.training.settings import EarlyStoppingConfig, TrainSettings


@dataclass(frozen=True)
class CandidateTask:
    """Everything a worker process needs to train one child (picklable)."""

    iteration: int
    candidate_id: str
    parent_id: Optional[str]
    transformation: str
    genotype: str
    params: int
    flops: int
    seed: int
    settings: CandidateTraining
    checkpoint: Optional[str] = None  # the candidate's own run folder, kept until it finishes
    device: str = "auto"


@dataclass(frozen=True)
class CandidateResult:
    accuracy: float
    loss: float
    epochs: int
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def train_candidate(task: CandidateTask, data: SearchData, emit: Emit = ignore, cancel: Optional[CancelToken] = None) -> CandidateResult:
    """Partially train the child on the training engine; report its best validation-loss epoch.

    ``task.checkpoint`` is the candidate's own run folder: the engine writes
    ``checkpoints/last.pt`` after every epoch there, a resumed search picks
    it up, and the folder is removed once the candidate's figures are known.
    """
    started = time.perf_counter()
    s = task.settings
    torch.manual_seed(task.seed)
    model = build(parse(task.genotype), data.input_shape)
    settings = TrainSettings(
        epochs=s.max_epochs, batch_size=s.batch_size, lr=s.lr, optimizer="adam", betas=(s.beta1, s.beta2), eps=s.eps,
        weight_decay=s.weight_decay, seed=task.seed, device=task.device, deterministic=False,
        early_stopping=EarlyStoppingConfig(enabled=True, monitor="val_loss", patience=s.patience),
    )
    run_dir = Path(task.checkpoint) if task.checkpoint else None

    def relay(event) -> None:
        if isinstance(event, EpochFinished):
            m = event.metrics
            emit(CandidateEpoch(task.candidate_id, event.epoch, float(m.get("val_accuracy", 0.0)), float(m.get("val_loss", 0.0))))

    trainer = Trainer(
        model, InMemoryDataset(data.x_train, data.y_train), InMemoryDataset(data.x_val, data.y_val), settings,
        num_classes=data.n_classes, run_dir=str(run_dir) if run_dir else None, emit=relay, cancel=cancel,
    )
    last = run_dir / "checkpoints" / "last.pt" if run_dir else None
    if last is not None and last.is_file():
        trainer.resume(last)
    result = trainer.run()
    if result.reason == "cancelled":
        raise Cancelled()
    best = next((m for m in result.history if m["epoch"] == result.best_epoch), result.history[-1])
    if run_dir is not None:
        # a finished candidate's checkpoints are dead weight; its figures live in the history
        shutil.rmtree(run_dir, ignore_errors=True)
    seconds = sum(float(m.get("seconds") or 0.0) for m in result.history)
    return CandidateResult(float(best["val_accuracy"]), float(best["val_loss"]), int(result.epochs_run),
                           seconds if seconds > 0 else time.perf_counter() - started)
