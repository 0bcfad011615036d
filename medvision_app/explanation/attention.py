"""Soft-Attention maps -> one heatmap: summed over the K maps, upsampled, normalised."""

from __future__ import annotations

from typing import Optional

import numpy as np
from skimage.transform import resize


def normalise(heatmap: np.ndarray) -> np.ndarray:
    """Min-max scale to [0, 1] as float32; a constant map becomes all zeros.

    The input is not modified.
    """
    arr = np.asarray(heatmap, dtype=np.float32)
    if arr.size == 0:
        raise ValueError("heatmap is empty")
    low, high = float(arr.min()), float(arr.max())
    # NaN propagates into min/max, so checking the two extremes covers the whole map.
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("heatmap contains NaN or infinite values")
    if high - low <= 1e-12 * max(1.0, abs(high)):
        return np.zeros(arr.shape, dtype=np.float32)
    out = arr - np.float32(low)  # a new array: the input stays as it was
    out *= np.float32(1.0 / (high - low))
    return out


def attention_heatmap(maps: np.ndarray, *, size: Optional[tuple[int, int]] = None) -> np.ndarray:
    """One heatmap from a Soft-Attention output.

    Parameters
    ----------
    maps : ndarray, shape (K, h, w) or (h, w)
        The attention maps of one image (the ONNX ``attention`` output for one
        batch item).
    size : (height, width), optional
        Upsample (bilinear) to this size, usually the model's input size.

    Returns
    -------
    ndarray, float32, shape ``size`` or (h, w), values in [0, 1].
    """
    arr = np.asarray(maps, dtype=np.float32)
    if arr.ndim == 3:
        arr = arr.sum(axis=0)
    elif arr.ndim != 2:
        raise ValueError(f"attention maps must have shape (K, h, w) or (h, w), got {arr.shape}")
    if size is not None:
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be (height, width) > 0, got {size!r}")
        if tuple(size) != arr.shape:
            arr = resize(arr, tuple(size), order=1, mode="edge", anti_aliasing=False, preserve_range=True)
    return normalise(arr)
