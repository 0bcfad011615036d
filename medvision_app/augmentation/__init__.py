"""Seeded, serialisable data augmentation for training and for the GUI's preview grid."""

from medvision_app.augmentation.augmenter import Augmenter, as_generator, build_augmenter
from medvision_app.augmentation.config import (
    AugmentationConfig,
    RotationConfig,
    ShearConfig,
    SvdConfig,
    TranslationConfig,
    ZoomConfig,
    default_preview_config,
)
from medvision_app.augmentation.preview import montage, preview

__all__ = [
    "AugmentationConfig",
    "Augmenter",
    "RotationConfig",
    "ShearConfig",
    "SvdConfig",
    "TranslationConfig",
    "ZoomConfig",
    "as_generator",
    "build_augmenter",
    "default_preview_config",
    "montage",
    "preview",
]
