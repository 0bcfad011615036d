"""Turning one image into the model's input: pixels at the model's size and channel count."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_model_input(image: np.ndarray, size: int, channels: int) -> np.ndarray:
    """Resize a float image in [0, 1] and fit its channels; return uint8 ``(C, size, size)``.

    Parameters
    ----------
    image : ndarray, float, shape (H, W) or (H, W, C)
        Values in [0, 1] (as from ``MedicalImage.display_float``). Not modified.
    size : int
        Output height and width (the aspect ratio is not kept: the papers
        resize to a square).
    channels : int
        1 (colour becomes its luminance) or 3 (grey is repeated).

    Returns
    -------
    ndarray, uint8, shape (channels, size, size)
    """
    if size < 1:
        raise ValueError(f"size {size} must be positive")
    if channels not in (1, 3):
        raise ValueError(f"channels {channels} must be 1 or 3")
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim == 3:
        arr = np.moveaxis(arr[..., :3], -1, 0)
    else:
        raise ValueError(f"image shape {arr.shape} is not (H, W) or (H, W, C)")
    if arr.shape[0] == 3 and channels == 1:
        arr = (0.299 * arr[0] + 0.587 * arr[1] + 0.114 * arr[2])[None]
    elif arr.shape[0] == 1 and channels == 3:
        arr = np.repeat(arr, 3, axis=0)
    if arr.shape[1:] != (size, size):
        arr = np.stack([_resize_bilinear(channel, size) for channel in arr])
    return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)


def _resize_bilinear(channel: np.ndarray, size: int) -> np.ndarray:
    # Pillow's bilinear filter on 32-bit float images widens its triangle with
    # the reduction factor (antialiasing) and is plain half-pixel bilinear when
    # enlarging: the same arithmetic as torch's interpolate(bilinear,
    # antialias=True), which trained the shipped models, to 2e-6. Pillow keeps
    # torch out of prediction, which must run on a reading station without it.
    image = Image.fromarray(np.ascontiguousarray(channel, dtype=np.float32), mode="F")
    return np.asarray(image.resize((size, size), Image.BILINEAR), dtype=np.float32)
