"""Where a model looked: Soft-Attention maps, class activation maps, Grad-CAM / Grad-CAM++, overlays.

Pure numpy / PyTorch; no Qt. Heatmaps are float32 in [0, 1].

The PyTorch parts (Grad-CAM, the class-activation-map module used at export)
load only when asked for: showing a heatmap must not import torch (importing
it took 3 s on the GUI thread, at the first heatmap shown).
"""

from __future__ import annotations

import importlib

from medvision_app.explanation.attention import attention_heatmap, normalise
from medvision_app.explanation.overlay import COLORMAPS, apply_colormap, overlay_heatmap, save_overlay_png

_TORCH_NAMES = {
    "GradCamExplainer": "gradcam",
    "find_target_layer": "gradcam",
    "grad_cam": "gradcam",
    "gradcam_explainer": "gradcam",
}

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


def __getattr__(name: str):
    module = _TORCH_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
