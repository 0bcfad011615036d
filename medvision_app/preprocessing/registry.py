"""The preprocessing operations a pipeline (and the GUI's panel) can use.

Each entry names a function and describes its parameters (type, default,
range or choices) so that a GUI can build one control per parameter and a
config file can be checked before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import numpy as np

from medvision_app.preprocessing.clahe import clahe
from medvision_app.preprocessing.geometry import Geometry
from medvision_app.preprocessing.intensity import contrast_stretch, equalize_hist, invert, percentile_stretch
from medvision_app.preprocessing.normalize import CONVENTIONS, normalize
from medvision_app.preprocessing.spatial import RESIZE_MODES, crop_foreground, resize
from medvision_app.preprocessing.svd import svd_reconstruct

__all__ = ["ParamSpec", "OpSpec", "OPS", "get_op", "op_names"]


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of an operation.

    ``kind`` is ``"float"``, ``"int"``, ``"bool"`` or ``"choice"``;
    ``minimum``/``maximum`` bound numbers (inclusive); ``choices`` lists the
    allowed values of a ``"choice"``.
    """

    name: str
    kind: str
    default: Any
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    choices: tuple[str, ...] = ()
    help: str = ""

    def check(self, value: Any) -> Any:
        """The value converted to this parameter's type; ValueError if it does not fit."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be true or false, got {value!r}")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"{self.name} must be one of {list(self.choices)}, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.name} must be a number, got {value!r}")
        if self.kind == "int":
            if float(value) != int(value):
                raise ValueError(f"{self.name} must be an integer, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not np.isfinite(value):
                raise ValueError(f"{self.name} must be finite, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"{self.name} must be >= {self.minimum}, got {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"{self.name} must be <= {self.maximum}, got {value!r}")
        return value


@dataclass(frozen=True)
class OpSpec:
    """An operation: ``run(image, **params) -> (image, Geometry)``."""

    name: str
    title: str
    run: Callable[..., tuple[np.ndarray, Geometry]]
    params: tuple[ParamSpec, ...] = field(default_factory=tuple)
    description: str = ""
    changes_geometry: bool = False

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``params``, each checked; ValueError names the bad one."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)}; {self.name} takes "
                f"{', '.join(known) if known else 'no parameters'}"
            )
        out = self.defaults()
        for name, value in params.items():
            out[name] = known[name].check(value)
        return out


def _same_geometry(func: Callable[..., np.ndarray]) -> Callable[..., tuple[np.ndarray, Geometry]]:
    def run(image: np.ndarray, **params: Any) -> tuple[np.ndarray, Geometry]:
        return func(image, **params), Geometry.identity(image.shape)

    run.__name__ = func.__name__
    run.__doc__ = func.__doc__
    return run


def _clahe(image: np.ndarray, *, clip_limit: float, tiles_rows: int, tiles_cols: int,
           nbins: int) -> np.ndarray:
    return clahe(image, clip_limit=clip_limit, tiles=(tiles_rows, tiles_cols), nbins=nbins)


def _resize(image: np.ndarray, *, height: int, width: int, mode: str,
            fill: float) -> tuple[np.ndarray, Geometry]:
    return resize(image, (height, width), mode=mode, fill=fill)


_OUT_MAX = ParamSpec("out_max", "float", 1.0, 1e-6, 65535.0, help="output maximum L (1 for models, 255 as in the paper)")

OPS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        OpSpec("contrast_stretch", "Contrast stretch", _same_geometry(contrast_stretch), (_OUT_MAX,),
               "Linear rescale of the image's [min, max] to [0, L] (AlexNet/SqueezeNet paper)."),
        OpSpec("percentile_stretch", "Percentile stretch", _same_geometry(percentile_stretch), (
            ParamSpec("low", "float", 1.0, 0.0, 100.0, help="lower percentile, mapped to 0"),
            ParamSpec("high", "float", 99.0, 0.0, 100.0, help="upper percentile, mapped to L"),
            _OUT_MAX,
        ), "Contrast stretch between two percentiles; robust to outlier pixels."),
        OpSpec("equalize_hist", "Histogram equalisation", _same_geometry(equalize_hist), (
            ParamSpec("nbins", "int", 256, 2, 65536, help="histogram bins (float input)"),
        ), "Global histogram equalisation to [0, 1]."),
        OpSpec("clahe", "CLAHE", _same_geometry(_clahe), (
            ParamSpec("clip_limit", "float", 0.01, 0.0, 1.0, help="normalised clip limit (higher: more contrast)"),
            ParamSpec("tiles_rows", "int", 8, 1, 64, help="contextual regions along the rows"),
            ParamSpec("tiles_cols", "int", 8, 1, 64, help="contextual regions along the columns"),
            ParamSpec("nbins", "int", 256, 2, 4096, help="grey-level bins per region"),
        ), "Contrast limited adaptive histogram equalisation to [0, 1]."),
        OpSpec("invert", "Invert", _same_geometry(invert), (
            ParamSpec("value_range", "choice", "dtype", choices=("dtype", "image"),
                      help="dtype: 1 - x for floats; image: min + max - x"),
        ), "Intensity inversion (P-NET paper)."),
        OpSpec("svd", "SVD low-rank", _same_geometry(svd_reconstruct), (
            ParamSpec("k", "int", 35, 1, 100000, help="singular values kept (ENAS: 25, 35, 45)"),
            ParamSpec("clip", "bool", True, help="clip to the input's range"),
        ), "Reconstruction from the k largest singular values (ENAS study)."),
        OpSpec("resize", "Resize", _resize, (
            ParamSpec("height", "int", 224, 1, 16384, help="output rows"),
            ParamSpec("width", "int", 224, 1, 16384, help="output columns"),
            ParamSpec("mode", "choice", "pad", choices=RESIZE_MODES,
                      help="pad: keep aspect and letterbox; stretch; crop: keep aspect and cut the centre"),
            ParamSpec("fill", "float", 0.0, help="padding value"),
        ), "Bicubic resize.", changes_geometry=True),
        OpSpec("crop_foreground", "Crop to foreground", crop_foreground, (
            ParamSpec("margin", "float", 0.02, 0.0, 0.5, help="margin around the region, fraction of the image size"),
        ), "Crop to the largest bright region (the breast): Otsu threshold + largest component.",
            changes_geometry=True),
        OpSpec("normalize", "Normalise", _same_geometry(normalize), (
            ParamSpec("convention", "choice", "imagenet", choices=CONVENTIONS,
                      help="imagenet: (x - mean) / std; unit: [0, 1]; symmetric: [-1, 1]"),
        ), "Scale to a network's input convention (expects input in [0, 1])."),
    )
}


def op_names() -> list[str]:
    return list(OPS)


def get_op(name: str) -> OpSpec:
    try:
        return OPS[name]
    except KeyError:
        raise ValueError(f"unknown operation {name!r}; known: {', '.join(OPS)}") from None
