"""How to train: optimiser, loss, schedule, stopping and device, as one dataclass tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

OPTIMIZERS = ("adam", "sgdm")
LOSSES = ("ce", "weighted_ce", "bce")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class EarlyStoppingConfig:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``monitor`` is an epoch metric name (``val_loss``, ``val_accuracy``,
    ``val_auc``, ``val_balanced_accuracy``, ``train_loss``); names ending in
    ``loss`` are minimised, the others maximised.
    """

    enabled: bool = True
    monitor: str = "val_loss"
    patience: int = 5
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ValueError(f"early_stopping.patience {self.patience} must be at least 1")
        if self.min_delta < 0:
            raise ValueError(f"early_stopping.min_delta {self.min_delta} must not be negative")


@dataclass
class PlateauConfig:
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls (0.2 in the HAM10000 work)."""

    enabled: bool = False
    monitor: str = "val_loss"
    factor: float = 0.2
    patience: int = 3
    min_lr: float = 1e-7

    def __post_init__(self) -> None:
        if not 0 < self.factor < 1:
            raise ValueError(f"plateau.factor {self.factor} must be between 0 and 1")


@dataclass
class TrainSettings:
    """The ``train`` section of a run configuration.

    ``optimizer``: ``"adam"`` (``betas``, ``eps``) or ``"sgdm"`` (SGD with
    ``momentum``). ``weight_decay`` is L2 added to the gradient. ``loss``:
    ``"ce"``, ``"weighted_ce"`` (W_c = N / (C * N_c) from the training
    labels) or ``"bce"`` (one logit, or one per class against one-hot
    targets). ``mixed_precision`` and ``channels_last`` only act on CUDA.
    ``deterministic`` asks PyTorch for deterministic kernels so a run repeats
    bit for bit on the same machine. ``progress_every``: batches between
    progress events (each one reads the loss back from the device).
    ``cpu_threads``: intra-op threads on the CPU during the run (None keeps
    PyTorch's default, one per core); on a busy shared machine fewer threads
    can be many times faster because they do not wait on each other.
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    momentum: float = 0.9
    weight_decay: float = 0.0
    loss: str = "ce"
    seed: int = 0
    deterministic: bool = True
    device: str = "auto"
    mixed_precision: bool = True
    channels_last: bool = True
    eval_batch_size: Optional[int] = None
    progress_every: int = 10
    cpu_threads: Optional[int] = None
    early_stopping: EarlyStoppingConfig = field(default_factory=EarlyStoppingConfig)
    plateau: PlateauConfig = field(default_factory=PlateauConfig)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"train.epochs {self.epochs} must be at least 1")
        if self.batch_size < 1:
            raise ValueError(f"train.batch_size {self.batch_size} must be at least 1")
        if not self.lr > 0:
            raise ValueError(f"train.lr {self.lr} must be positive")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"train.optimizer {self.optimizer!r} is not one of {list(OPTIMIZERS)}")
        if self.loss not in LOSSES:
            raise ValueError(f"train.loss {self.loss!r} is not one of {list(LOSSES)}")
        if self.device not in DEVICES:
            raise ValueError(f"train.device {self.device!r} is not one of {list(DEVICES)}")
        if self.weight_decay < 0:
            raise ValueError(f"train.weight_decay {self.weight_decay} must not be negative")
        if self.cpu_threads is not None and self.cpu_threads < 1:
            raise ValueError(f"train.cpu_threads {self.cpu_threads} must be at least 1")
        if self.progress_every < 1:
            raise ValueError(f"train.progress_every {self.progress_every} must be at least 1")
