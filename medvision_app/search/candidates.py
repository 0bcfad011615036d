"""One BbNAS candidate: what to train (a task) and what came out (a result), weights travelling as bytes.

A task and its result are plain picklable data, so the same candidate runs
in this process, in a worker process or on another machine of a Ray cluster:
the parent's weights go in as bytes, the child's best weights (and, for
successive halving, its whole training state) come back as bytes.
"""

from __future__ import annotations

import io
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
from medvision_app.training.checkpoints import LAST, CheckpointError
from medvision_app.training.engine import Trainer
from medvision_app.training.events import EpochFinished
from medvision_app.training.handlers import Checkpointer, EarlyStopping
from medvision_app.training.schedules import BestWeights
from medvision_app.training.settings import EarlyStoppingConfig, TrainSettings


@dataclass(frozen=True)
class CandidateTask:
    """Everything a worker needs to train one child (picklable).

    ``parent_weights``: the parent's trained state dict as bytes, from which
    the child inherits when ``inherit``. ``max_epochs`` overrides the
    settings' (a successive-halving rung, an inheriting child);
    ``resume_state`` continues a rung's training state; ``keep_state`` asks
    for that state back. ``discard_below``: a first-epoch validation accuracy
    under it ends the child (early discarding).
    """

    iteration: int
    candidate_id: str
    parent_id: Optional[str]
    transformation: str
    genotype: str
    params: int
    flops: int
    seed: int
    settings: CandidateTraining
    checkpoint: Optional[str] = None  # the candidate's own run folder on this machine, kept until it finishes
    device: str = "auto"
    parent_genotype: Optional[str] = None
    parent_weights: Optional[bytes] = None
    inherit: bool = False
    max_epochs: Optional[int] = None
    discard_below: Optional[float] = None
    resume_state: Optional[bytes] = None
    keep_state: bool = False


@dataclass(frozen=True)
class CandidateResult:
    accuracy: float
    loss: float
    epochs: int
    seconds: float
    weights: Optional[bytes] = None  # the best epoch's state dict
    state: Optional[bytes] = None  # the engine's state, when the task asked to keep it
    discarded: bool = False
    preserved: Optional[bool] = None  # inheritance kept the parent's function (None: trained from scratch)
    inherited: float = 0.0  # share of the child's parameters taken from the parent

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not isinstance(v, bytes)}


def to_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def from_bytes(data: bytes):
    """Weights or a training state written by :func:`to_bytes`; data, never code (``weights_only``)."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


class EarlyDiscard:
    """Ends the run after its first epoch when the validation accuracy is below ``threshold``."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def attach(self, engine) -> None:
        self.engine = engine
        engine.on(EpochFinished, self._on_epoch)

    def _on_epoch(self, event: EpochFinished) -> None:
        if event.epoch == 1 and float(event.metrics.get("val_accuracy", 0.0)) < self.threshold:
            self.engine.stop_reason = "discarded"


def _model(task: CandidateTask, data: SearchData):
    if task.inherit and task.parent_weights is not None and task.parent_genotype:
        from medvision_app.search.inherit import inherit

        model, info = inherit(task.parent_genotype, from_bytes(task.parent_weights), task.genotype,
                              task.transformation, data.input_shape, seed=task.seed)
        if info.inherited_fraction > 0:
            return model, info.preserved, info.inherited_fraction
    torch.manual_seed(task.seed)
    return build(parse(task.genotype), data.input_shape), None, 0.0


def train_candidate(task: CandidateTask, data: SearchData, emit: Emit = ignore, cancel: Optional[CancelToken] = None) -> CandidateResult:
    """Partially train the child on the training engine; report its best validation-loss epoch.

    ``task.checkpoint`` is the candidate's own run folder: the engine writes
    ``checkpoints/last.pt`` after every epoch there, a resumed search picks
    it up, and the folder is removed once the candidate's figures are known.
    """
    started = time.perf_counter()
    s = task.settings
    model, preserved, inherited = _model(task, data)
    settings = TrainSettings(
        epochs=task.max_epochs or s.max_epochs, batch_size=s.batch_size, lr=s.inherited_lr if preserved is not None
        else s.lr, optimizer="adam",
        betas=(s.beta1, s.beta2), eps=s.eps, weight_decay=s.weight_decay, seed=task.seed, device=task.device,
        deterministic=False, early_stopping=EarlyStoppingConfig(enabled=True, monitor="val_loss", patience=s.patience),
    )
    run_dir = Path(task.checkpoint) if task.checkpoint else None

    def relay(event) -> None:
        if isinstance(event, EpochFinished):
            m = event.metrics
            emit(CandidateEpoch(task.candidate_id, event.epoch, float(m.get("val_accuracy", 0.0)), float(m.get("val_loss", 0.0))))

    trainer = Trainer(model, InMemoryDataset(data.x_train, data.y_train), InMemoryDataset(data.x_val, data.y_val),
                      settings, num_classes=data.n_classes, emit=relay, cancel=cancel, default_handlers=False)
    trainer.attach(EarlyStopping("val_loss", s.patience), BestWeights())
    if task.discard_below is not None:
        trainer.attach(EarlyDiscard(task.discard_below))
    if run_dir is not None:
        trainer.attach(Checkpointer(run_dir / "checkpoints"))
    last = run_dir / "checkpoints" / LAST if run_dir else None
    if task.resume_state is not None:
        trainer.load_state_dict(from_bytes(task.resume_state))
    if last is not None and last.is_file():
        try:
            trainer.resume(last)
        except CheckpointError:
            pass  # damaged: the candidate trains again from its first epoch
    result = trainer.run()
    if result.reason == "cancelled":
        raise Cancelled()
    best = result.best_metrics or result.history[-1]
    state = to_bytes(trainer.state_dict()) if task.keep_state else None
    if run_dir is not None:
        # a finished candidate's checkpoints are dead weight; its figures live in the history
        shutil.rmtree(run_dir, ignore_errors=True)
    seconds = sum(float(m.get("seconds") or 0.0) for m in result.history)
    weights = {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()}
    return CandidateResult(float(best["val_accuracy"]), float(best["val_loss"]), int(result.epochs_run),
                           seconds if seconds > 0 else time.perf_counter() - started, weights=to_bytes(weights),
                           state=state, discarded=result.reason == "discarded", preserved=preserved,
                           inherited=inherited)
