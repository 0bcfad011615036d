"""Seeded, serialisable data augmentation for training and for the GUI's preview grid.

The augmenter (and so torch and torchvision, 4 to 8 s to import here) loads
on first use of a name that needs it: the workstation imports the configs at
start-up and computes its first preview only when the panel is shown.
"""

from __future__ import annotations

import importlib
from typing import Any

from medvision_app.augmentation.config import (
    AugmentationConfig,
    RotationConfig,
    ShearConfig,
    SvdConfig,
    TranslationConfig,
    ZoomConfig,
    default_preview_config,
)

# Imported here, not lazily: the function shares its submodule's name, and a
# lazy import let the submodule's binding replace the function ("'module'
# object is not callable"). The module needs numpy only; torch comes with the
# augmenter when the first preview is computed.
from medvision_app.augmentation.preview import montage, preview

_LAZY = {
    "Augmenter": "medvision_app.augmentation.augmenter",
    "as_generator": "medvision_app.augmentation.augmenter",
    "build_augmenter": "medvision_app.augmentation.augmenter",
}

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
