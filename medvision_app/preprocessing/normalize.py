"""Normalisation to a network's input convention."""

from __future__ import annotations

import numpy as np

from medvision_app.preprocessing.intensity import to_unit_float

__all__ = ["normalize", "CONVENTIONS", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CONVENTIONS = ("imagenet", "unit", "symmetric")


def normalize(image: np.ndarray, convention: str = "imagenet") -> np.ndarray:
    """Scale an image the way a network expects its input.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Floats are taken to be in ``[0, 1]`` (clipped); integers are divided
        by their dtype maximum first. Not modified.
    convention : {"imagenet", "unit", "symmetric"}
        ``"imagenet"``: ``(x - mean) / std`` per channel with the ImageNet
        statistics; a grayscale image uses the mean of the three channels'
        statistics (replicate it to 3 channels first to use them per channel).
        ``"unit"``: ``[0, 1]``. ``"symmetric"``: ``[-1, 1]``.

    Returns
    -------
    out : ndarray, float32, same shape as ``image``
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    out = to_unit_float(image)
    if convention == "unit":
        return out
    if convention == "symmetric":
        out *= 2.0
        out -= 1.0
        return out
    if out.ndim == 3 and out.shape[2] == 3:
        out -= np.asarray(IMAGENET_MEAN, dtype=np.float32)
        out /= np.asarray(IMAGENET_STD, dtype=np.float32)
        return out
    if out.ndim == 3 and out.shape[2] != 1:
        raise ValueError(f"ImageNet normalisation needs 1 or 3 channels, got shape {out.shape}")
    out -= np.float32(np.mean(IMAGENET_MEAN))
    out /= np.float32(np.mean(IMAGENET_STD))
    return out
