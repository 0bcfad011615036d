"""Where a model looked: Soft-Attention maps, Grad-CAM / Grad-CAM++, overlays.

Pure numpy / PyTorch; no Qt. Heatmaps are float32 in [0, 1]. Grad-CAM (and
with it torch) and the attention maps load on first use of one of their
names: the workstation shows overlays and colour maps without importing them.
"""

from __future__ import annotations

import importlib
from typing import Any

from medvision_app.explanation.overlay import COLORMAPS, apply_colormap, overlay_heatmap, save_overlay_png

# Grad-CAM needs torch, the attention maps scikit-image's resize (2 s of
# imports together on a busy machine): both wait for their first use.
_LAZY = {name: "medvision_app.explanation.gradcam"
         for name in ("GradCamExplainer", "find_target_layer", "grad_cam", "gradcam_explainer")}
_LAZY.update({name: "medvision_app.explanation.attention" for name in ("attention_heatmap", "normalise")})

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
