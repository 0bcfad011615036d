"""Where a model looked: Soft-Attention maps, Grad-CAM / Grad-CAM++, overlays.

Pure numpy / PyTorch; no Qt. Heatmaps are float32 in [0, 1].
"""

from medvision_app.explanation.attention import attention_heatmap, normalise
from medvision_app.explanation.gradcam import GradCamExplainer, find_target_layer, grad_cam, gradcam_explainer
from medvision_app.explanation.overlay import COLORMAPS, apply_colormap, overlay_heatmap, save_overlay_png

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
