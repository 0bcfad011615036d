"""The whole description of a training run: one dataclass tree saved as the run's ``config.json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from medvision_app.augmentation import AugmentationConfig
from medvision_app.data.config import DataConfig
from medvision_app.data.metadata import MetadataEncoding
from medvision_app.evaluation.settings import EvalSettings
from medvision_app.networks.config import ModelConfig
from medvision_app.preprocessing import PipelineConfig
from medvision_app.training.settings import TrainSettings


@dataclass
class RunFacts:
    """What a run found out and inference must repeat; written by the run, not by the user.

    ``input_mean`` / ``input_std``: per-channel normalisation applied to
    inputs in [0, 1] after preprocessing and augmentation (the model's own,
    e.g. ImageNet statistics for pretrained backbones).
    """

    classes: list[str] = field(default_factory=list)
    data_path: str = ""
    metadata_encoding: Optional[MetadataEncoding] = None
    input_mean: list[float] = field(default_factory=list)
    input_std: list[float] = field(default_factory=list)
    train_samples: int = 0
    val_samples: int = 0
    test_samples: int = 0
    # images per class (in ``classes`` order) of the training split: eval.prior_adjustment's priors
    train_class_counts: list[int] = field(default_factory=list)
    skipped_images: int = 0
    medvision_version: str = ""


@dataclass
class TrainConfig:
    """``data``, ``model``, ``train``, ``preprocessing``, ``augmentation`` and the run's facts.

    Preprocessing runs once per image (its output must stay in [0, 1]);
    the images are then resized to ``model.input_size`` and given
    ``model.in_channels``. Augmentation applies to training samples only.
    """

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainSettings = field(default_factory=TrainSettings)
    preprocessing: PipelineConfig = field(default_factory=PipelineConfig)
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)
    eval: EvalSettings = field(default_factory=EvalSettings)
    description: str = ""
    run: RunFacts = field(default_factory=RunFacts)
