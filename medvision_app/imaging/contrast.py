"""Whether an image shown for analysis carries any information at all.

A window far above every value, a flat export or a one-pixel file all show
as one grey level; a classifier still answers on them, often with high
confidence. Such images are refused before analysis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np

from medvision_app.imaging.errors import ImageOpenError

NO_CONTRAST = "image has no contrast"
# At least this share of the pixels must differ from the most common grey
# level by more than one level: a single hot pixel on a flat field is no image.
MIN_VARYING_SHARE = 0.001


class NoContrastError(ImageOpenError):
    """The image, as displayed, is (almost) one flat grey level; ``reason`` is :data:`NO_CONTRAST`."""

    def __init__(self, path: Union[str, Path]) -> None:
        super().__init__(path, NO_CONTRAST)


_SAMPLE_PIXELS = 1_000_000


def has_contrast(display: np.ndarray) -> bool:
    """Whether a display image (uint8, or float in [0, 1]; gray or RGB) shows anything but one grey level.

    Counts the pixels more than one grey level (of 256) away from the most
    common one; the image has contrast when they are at least
    :data:`MIN_VARYING_SHARE` of all values.
    """
    arr = np.asarray(display)
    if arr.size == 0:
        return False
    if arr.ndim >= 2 and arr.shape[0] * arr.shape[1] > _SAMPLE_PIXELS:
        # a share of pixels is a proportion: a regular grid of a million of
        # them estimates it as well as all twelve million of a mammogram, at a
        # tenth of the time on the prediction path
        step = int(np.ceil(np.sqrt(arr.shape[0] * arr.shape[1] / _SAMPLE_PIXELS)))
        arr = arr[::step, ::step]
    if arr.dtype != np.uint8:
        values = np.nan_to_num(arr.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
        arr = np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
    hist = np.bincount(arr.ravel(), minlength=256)
    mode = int(hist.argmax())
    near = int(hist[max(mode - 1, 0):mode + 2].sum())
    varying = arr.size - near
    return varying > 0 and varying >= MIN_VARYING_SHARE * arr.size


def require_contrast(display: np.ndarray, source: Union[str, Path]) -> None:
    """Raise :class:`NoContrastError` naming ``source`` when ``display`` has no contrast."""
    if not has_contrast(display):
        raise NoContrastError(source)
