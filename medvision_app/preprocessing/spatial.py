"""Geometric preprocessing: resizing and cropping to the foreground.

Each function returns the new image and the :class:`Geometry` that maps the
input onto it, so results computed on the output (heatmaps, boxes) can be
mapped back onto the original image.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from medvision_app.preprocessing.geometry import Geometry
from medvision_app.preprocessing.intensity import _check_image

__all__ = ["resize", "crop_foreground", "foreground_box"]

RESIZE_MODES = ("pad", "stretch", "crop")


def _resize_plane(plane: np.ndarray, rows: int, cols: int) -> np.ndarray:
    # Pillow's float ("F") bicubic is a separable, antialiased filter and far
    # faster than scikit-image's spline resize on large images.
    return np.array(Image.fromarray(plane).resize((cols, rows), Image.BICUBIC), dtype=np.float32)


def _resize_exact(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    src = image.astype(np.float32, copy=False)
    if src.ndim == 2:
        out = _resize_plane(np.ascontiguousarray(src), rows, cols)
    else:
        out = np.stack([_resize_plane(np.ascontiguousarray(src[..., c]), rows, cols)
                        for c in range(src.shape[2])], axis=-1)
    # Bicubic overshoots at edges; keep values in the input's range.
    np.clip(out, float(image.min()), float(image.max()), out=out)
    return out


def resize(image: np.ndarray, shape: tuple[int, int], *, mode: str = "pad",
           fill: float = 0.0) -> tuple[np.ndarray, Geometry]:
    """Bicubic resize to ``shape``, keeping the aspect ratio or not.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Integer or floating-point. Not modified.
    shape : (rows, columns)
        Output size.
    mode : {"pad", "stretch", "crop"}, optional
        ``"pad"``: scale to fit inside ``shape`` keeping the aspect ratio and
        centre it on a ``fill`` background (letterbox). ``"stretch"``: scale
        each axis independently. ``"crop"``: scale to cover ``shape`` keeping
        the aspect ratio and cut the centre out.
    fill : float, optional
        Background value of the padding.

    Returns
    -------
    out : ndarray, float32, shape ``shape`` (plus the channel axis if any)
        Values clipped to the input's ``[min, max]``.
    geometry : Geometry
        Input to output map (scale and padding/cropping offsets).
    """
    image = _check_image(image)
    rows, cols = (int(v) for v in shape)
    if rows < 1 or cols < 1:
        raise ValueError(f"shape must be positive (rows, columns), got {shape!r}")
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")
    h, w = image.shape[:2]
    if mode == "stretch":
        out = _resize_exact(image, rows, cols)
        return out, Geometry((h, w), (rows, cols), (rows / h, cols / w), (0.0, 0.0))
    factor = min(rows / h, cols / w) if mode == "pad" else max(rows / h, cols / w)
    nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
    scaled = _resize_exact(image, nh, nw)
    top, left = (rows - nh) // 2, (cols - nw) // 2
    out = np.full((rows, cols) + image.shape[2:], fill, dtype=np.float32)
    # Place the scaled image with the offsets; negative offsets crop it.
    src_r, dst_r = (slice(0, nh), slice(top, top + nh)) if top >= 0 else (slice(-top, -top + rows), slice(0, rows))
    src_c, dst_c = (slice(0, nw), slice(left, left + nw)) if left >= 0 else (slice(-left, -left + cols), slice(0, cols))
    out[dst_r, dst_c] = scaled[src_r, src_c]
    return out, Geometry((h, w), (rows, cols), (nh / h, nw / w), (float(top), float(left)))


def foreground_box(image: np.ndarray, *, margin: float = 0.02,
                   max_side: int = 512) -> tuple[int, int, int, int]:
    """Bounding box ``(top, left, bottom, right)`` of the largest bright region.

    Otsu's threshold separates tissue from background; the largest connected
    component is kept (labels, markers and the detector edge are smaller),
    and its box is widened by ``margin`` times the image size on every side.
    The mask is computed on a copy reduced to at most ``max_side`` pixels per
    side, which is plenty for a box and keeps a mammogram fast. A constant
    image, or one with no foreground, gives the whole image.
    """
    image = _check_image(image)
    if not 0.0 <= margin <= 0.5:
        raise ValueError(f"margin must be in [0, 0.5], got {margin!r}")
    from skimage.filters import threshold_otsu
    from skimage.measure import label

    h, w = image.shape[:2]
    step = max(1, int(np.ceil(max(h, w) / max_side)))
    small = image[::step, ::step]
    small = small.mean(axis=2, dtype=np.float32) if small.ndim == 3 else small.astype(np.float32)
    if not float(small.max()) > float(small.min()):
        return 0, 0, h, w
    mask = small > threshold_otsu(small)
    labels = label(mask, connectivity=2)
    if labels.max() == 0:
        return 0, 0, h, w
    largest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
    rr, cc = np.nonzero(labels == largest)
    top, bottom = rr.min() * step, min(h, (rr.max() + 1) * step)
    left, right = cc.min() * step, min(w, (cc.max() + 1) * step)
    dy, dx = int(round(margin * h)), int(round(margin * w))
    return max(0, top - dy), max(0, left - dx), min(h, bottom + dy), min(w, right + dx)


def crop_foreground(image: np.ndarray, *, margin: float = 0.02) -> tuple[np.ndarray, Geometry]:
    """Crop to the foreground (the breast on a mammogram): see :func:`foreground_box`.

    Returns
    -------
    out : ndarray, same dtype as ``image``, a copy of the box
    geometry : Geometry
        Its :attr:`Geometry.crop_box` is the box in input pixels.
    """
    top, left, bottom, right = foreground_box(image, margin=margin)
    out = np.array(image[top:bottom, left:right], copy=True)
    h, w = image.shape[:2]
    return out, Geometry((h, w), (bottom - top, right - left), (1.0, 1.0), (float(-top), float(-left)))
