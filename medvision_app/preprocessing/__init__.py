"""Image preprocessing: pure functions on numpy arrays and a configurable pipeline.

Every function takes the image first and options after, never modifies its
input, and states its output dtype. Geometric steps also return a
:class:`Geometry` so results can be mapped back onto the original image.
"""

from medvision_app.preprocessing.clahe import clahe
from medvision_app.preprocessing.geometry import Geometry
from medvision_app.preprocessing.intensity import (
    contrast_stretch,
    equalize_hist,
    invert,
    percentile_stretch,
    to_unit_float,
)
from medvision_app.preprocessing.normalize import IMAGENET_MEAN, IMAGENET_STD, normalize
from medvision_app.preprocessing.pipeline import PipelineConfig, StepConfig, apply_pipeline
from medvision_app.preprocessing.registry import OPS, OpSpec, ParamSpec, get_op, op_names
from medvision_app.preprocessing.spatial import crop_foreground, foreground_box, resize
from medvision_app.preprocessing.svd import svd_reconstruct

__all__ = [
    "Geometry",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "OPS",
    "OpSpec",
    "ParamSpec",
    "PipelineConfig",
    "StepConfig",
    "apply_pipeline",
    "clahe",
    "contrast_stretch",
    "crop_foreground",
    "equalize_hist",
    "foreground_box",
    "get_op",
    "invert",
    "normalize",
    "op_names",
    "percentile_stretch",
    "resize",
    "svd_reconstruct",
    "to_unit_float",
]
