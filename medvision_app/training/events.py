"""The typed events of a training run, consumed by the CLI bar, the log and the GUI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from medvision_app.events import Event


@dataclass(frozen=True)
class RunStarted(Event):
    epochs: int
    start_epoch: int  # epochs already done (non-zero when resuming)
    train_samples: int
    val_samples: int
    batches_per_epoch: int
    device: str
    run_dir: Optional[str] = None


@dataclass(frozen=True)
class EpochStarted(Event):
    epoch: int  # 1-based
    epochs: int
    lr: float


@dataclass(frozen=True)
class BatchProgress(Event):
    epoch: int
    batch: int  # batches done in this epoch
    batches: int
    loss: float  # mean training loss of the epoch so far


@dataclass(frozen=True)
class EpochFinished(Event):
    epoch: int
    epochs: int
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointSaved(Event):
    epoch: int
    path: str
    best: bool


@dataclass(frozen=True)
class CheckpointRecovered(Event):
    """A damaged checkpoint was passed over; ``using`` is the file used instead, "" when starting from epoch 1."""

    damaged: str
    reason: str
    using: str

    @property
    def message(self) -> str:
        instead = f"using {self.using} instead" if self.using else "no usable checkpoint left: starting from epoch 1"
        return f"{self.reason}; {instead}"


@dataclass(frozen=True)
class RunFinished(Event):
    epochs_run: int
    best_epoch: Optional[int]
    best_value: Optional[float]
    monitor: str
    reason: str  # "completed" or "early stopping"


@dataclass(frozen=True)
class RunCancelled(Event):
    epoch: int  # last completed epoch


@dataclass(frozen=True)
class RunFailed(Event):
    epoch: int
    reason: str
