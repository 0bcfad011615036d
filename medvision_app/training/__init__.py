"""The training engine, its events and handlers, and run folders."""

from medvision_app.training.engine import Trainer, TrainResult, resolve_device
from medvision_app.training.errors import TrainingError
from medvision_app.training.events import (
    BatchProgress,
    CheckpointSaved,
    EpochFinished,
    EpochStarted,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
)
from medvision_app.training.handlers import Checkpointer, EarlyStopping, MetricsLogger, ProgressBar
from medvision_app.training.losses import build_loss, class_weights, probabilities
from medvision_app.training.settings import EarlyStoppingConfig, PlateauConfig, TrainSettings

__all__ = [
    "BatchProgress",
    "CheckpointSaved",
    "Checkpointer",
    "EarlyStopping",
    "EarlyStoppingConfig",
    "EpochFinished",
    "EpochStarted",
    "MetricsLogger",
    "PlateauConfig",
    "ProgressBar",
    "RunCancelled",
    "RunFailed",
    "RunFinished",
    "RunStarted",
    "TrainResult",
    "TrainSettings",
    "Trainer",
    "TrainingError",
    "build_loss",
    "class_weights",
    "probabilities",
    "resolve_device",
]
