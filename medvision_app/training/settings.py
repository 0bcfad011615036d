"""How to train: optimiser, loss, schedule, stopping and device, as one dataclass tree."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, get_args

from medvision_app.utils.config_schema import option

Optimizer = Literal["adam", "sgdm"]
Loss = Literal["ce", "weighted_ce", "bce"]
Device = Literal["auto", "cpu", "cuda"]
Schedule = Literal["constant", "cosine"]
# The epoch metrics the engine writes (engine._validate, summary_metrics); a
# name outside them used to fall back to train_loss without a word.
Monitor = Literal["val_loss", "val_accuracy", "val_balanced_accuracy", "val_auc", "train_loss"]
OPTIMIZERS = get_args(Optimizer)
LOSSES = get_args(Loss)
DEVICES = get_args(Device)
MONITORS = get_args(Monitor)


@dataclass
class EarlyStoppingConfig:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``monitor`` is an epoch metric name (``val_loss``, ``val_accuracy``,
    ``val_auc``, ``val_balanced_accuracy``, ``train_loss``); names ending in
    ``loss`` are minimised, the others maximised.
    """

    enabled: bool = option(True, help="Stop training when the monitored metric stops improving.")
    monitor: Monitor = option("val_loss", help="Epoch metric watched; names ending in loss are minimised.")
    patience: int = option(5, help="Epochs without improvement before stopping.", range=(1, None), unit="epochs")
    min_delta: float = option(0.0, help="Smallest change that counts as an improvement.", range=(0.0, None))


@dataclass
class PlateauConfig:
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls (0.2 in the HAM10000 work)."""

    enabled: bool = option(False, help="Lower the learning rate when the monitored metric stalls.")
    monitor: Monitor = option("val_loss", help="Epoch metric watched; names ending in loss are minimised.")
    factor: float = option(0.2, help="Multiplier applied to the learning rate on a plateau (strictly between 0 and 1).",
                           range=(0.0, 1.0))
    patience: int = option(3, help="Epochs without improvement before the rate is lowered.", range=(1, None),
                           unit="epochs")
    min_lr: float = option(1e-7, help="The learning rate is never lowered below this.", range=(0.0, None))

    def __post_init__(self) -> None:
        if not 0 < self.factor < 1:
            raise ValueError(f"factor must be above 0 and below 1, got {self.factor}")


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
    ``ema_decay``: an exponential moving average of the weights
    (:mod:`~medvision_app.training.averaging`) replaces them for validation,
    the best epoch, the checkpoints' ``model`` and the export.
    Ranges and choices are declared on the fields (``config_schema``) and
    checked by ``config_io.from_dict``; ``__post_init__`` keeps the strict
    bounds an inclusive range cannot say.
    """

    epochs: int = option(10, help="Passes over the training data.", range=(1, 100_000), unit="epochs")
    batch_size: int = option(32, help="Images per training step.", range=(1, 65_536), unit="images")
    lr: float = option(1e-3, help="Initial learning rate (strictly positive).", range=(0.0, 10.0))
    optimizer: Optimizer = option("adam", help="adam (betas, eps) or sgdm (SGD with momentum).")
    betas: tuple[float, float] = option((0.9, 0.999), help="Adam's two moment decay rates, each in [0, 1).",
                                        range=(0.0, 1.0))
    eps: float = option(1e-8, help="Adam's denominator term, keeps the step finite (strictly positive).",
                        range=(0.0, 1.0))
    momentum: float = option(0.9, help="SGD momentum (sgdm only).", range=(0.0, 1.0))
    weight_decay: float = option(0.0, help="L2 penalty added to the gradient.", range=(0.0, 1.0))
    loss: Loss = option("ce", help="ce, weighted_ce (class weights N / (C * N_c)) or bce.")
    seed: int = option(0, help="Seed of every random choice of the run.", range=(0, 2**32 - 1))
    deterministic: bool = option(True, help="Ask PyTorch for deterministic kernels so a run repeats bit for bit.")
    device: Device = option("auto", help="Where to train: auto picks CUDA when present, else the CPU.")
    mixed_precision: bool = option(True, help="Half precision on CUDA (no effect on the CPU).")
    channels_last: bool = option(True, help="Channels-last memory layout on CUDA (no effect on the CPU).")
    eval_batch_size: Optional[int] = option(None, help="Images per evaluation step (empty: the larger of "
                                            "batch size and 64).", range=(1, 65_536), unit="images")
    progress_every: int = option(10, help="Batches between progress events.", range=(1, None), unit="batches")
    cpu_threads: Optional[int] = option(None, help="CPU threads during the run (empty: one per core).",
                                        range=(1, 1024), unit="threads")
    early_stopping: EarlyStoppingConfig = option(help="When to stop before the last epoch.",
                                                 default_factory=EarlyStoppingConfig)
    plateau: PlateauConfig = option(help="When to lower the learning rate.", default_factory=PlateauConfig)
    # Issue 16's regularisers and schedule (medvision_app/training/regularisation.py, schedules.py).
    schedule: Schedule = option("constant", help="constant (with the plateau rule, if enabled) or cosine: the "
                                "rate decays from lr to lr x lr_min_factor over the epochs.")
    lr_min_factor: float = option(0.01, help="Cosine schedule: the last epoch's rate as a fraction of lr.",
                                  range=(0.0, 1.0))
    label_smoothing: float = option(0.0, help="Share of each target spread over the other classes (0: off).",
                                    range=(0.0, 0.5))
    mixup_alpha: float = option(0.0, help="Mixup: images and targets blended with Beta(alpha, alpha) weights "
                                "(0: off; 0.2-0.4 usual).", range=(0.0, 10.0))
    ema_decay: float = option(0.0, help="Average the weights over the steps with this decay (0: off; 0.99-0.999 "
                              "usual); the average is validated, kept and exported.", range=(0.0, 0.99999))
    bn_reestimate: bool = option(False, help="After training, recompute the batch-norm statistics of the best "
                                 "weights on the training images (no augmentation) before evaluation and export.")

    def __post_init__(self) -> None:
        if self.schedule == "cosine" and self.plateau.enabled:
            raise ValueError("schedule 'cosine' and plateau.enabled both set the learning rate; choose one")
        if not self.lr > 0:
            raise ValueError(f"lr must be above 0, got {self.lr}")
        if not self.eps > 0:
            raise ValueError(f"eps must be above 0, got {self.eps}")
        if any(not 0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must each be at least 0 and below 1, got {list(self.betas)}")
