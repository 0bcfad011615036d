"""Where a model looked: Soft-Attention maps, Grad-CAM / Grad-CAM++, overlays.

Pure numpy / PyTorch; no Qt. Heatmaps are float32 in [0, 1]. Grad-CAM (and
with it torch) loads on first use of one of its names: the workstation shows
overlays and colour maps without importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from medvision_app.explanation.attention import attention_heatmap, normalise
from medvision_app.explanation.overlay import COLORMAPS, apply_colormap, overlay_heatmap, save_overlay_png

_LAZY = {name: "medvision_app.explanation.gradcam"
         for name in ("GradCamExplainer", "find_target_layer", "grad_cam", "gradcam_explainer")}

__all__ = [
    "COLORMAPS",
    "GradCamExplainer",
    "apply_colormap",
    "attention_heatmap",
    "find_target_layer",
    "grad_cam",
    "gradcam_explainer",
    "normalise",
    "overlay_heatmap",
    "save_overlay_png",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
