"""Intensity transforms: contrast stretching, histogram equalisation, inversion.

All functions take the image first and options after, never modify their
input, and accept integer or floating-point arrays of shape ``(H, W)`` or
``(H, W, C)``. They avoid float64 intermediates so that a 16-bit
4400x2700 mammogram costs one float32 output and little else.
"""

from __future__ import annotations

import numpy as np

__all__ = ["contrast_stretch", "percentile_stretch", "equalize_hist", "invert", "to_unit_float"]


def _check_image(image: np.ndarray, name: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"{name} must be (H, W) or (H, W, C), got shape {image.shape}")
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)
            or image.dtype == np.bool_):
        raise ValueError(f"{name} must be integer or floating point, got dtype {image.dtype}")
    return image


def _check_out_max(out_max: float) -> float:
    if not np.isfinite(out_max) or out_max <= 0:
        raise ValueError(f"out_max must be a positive finite number, got {out_max!r}")
    return float(out_max)


def _stretch(image: np.ndarray, lo: float, hi: float, out_max: float) -> np.ndarray:
    # One float32 allocation, then in-place arithmetic: no float64 copy of a
    # 12-megapixel mammogram.
    out = image.astype(np.float32, copy=True)
    if not hi > lo:
        out.fill(0.0)
        return out
    out -= np.float32(lo)
    out *= np.float32(out_max / (hi - lo))
    np.clip(out, 0.0, out_max, out=out)
    return out


def contrast_stretch(image: np.ndarray, *, out_max: float = 1.0) -> np.ndarray:
    """Linear contrast stretch from the image's ``[min, max]`` to ``[0, out_max]``.

    This is the contrast stretching of the AlexNet/SqueezeNet mammography
    paper: ``out = (x - min) / (max - min) * L`` with ``L = out_max``.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Integer or floating-point intensities. Not modified.
    out_max : float, optional
        ``L``, the output maximum (1.0 for models, 255 for the paper's 8-bit).

    Returns
    -------
    out : ndarray, float32, same shape as ``image``
        The image minimum maps exactly to 0 and the maximum to ``out_max``.
        A constant image gives all zeros.
    """
    image = _check_image(image)
    out_max = _check_out_max(out_max)
    return _stretch(image, float(image.min()), float(image.max()), out_max)


def percentile_stretch(image: np.ndarray, *, low: float = 1.0, high: float = 99.0,
                       out_max: float = 1.0) -> np.ndarray:
    """Contrast stretch between two percentiles, clipping what lies outside.

    Robust to a few outlier pixels (a burnt-in marker, a dead detector
    element) that would flatten a plain min-max stretch.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Integer or floating-point intensities. Not modified.
    low, high : float, optional
        Percentiles in ``[0, 100]`` with ``low < high``; values at or below
        the ``low`` percentile map to 0, at or above ``high`` to ``out_max``.
    out_max : float, optional
        The output maximum.

    Returns
    -------
    out : ndarray, float32, same shape as ``image``, values in ``[0, out_max]``
    """
    image = _check_image(image)
    out_max = _check_out_max(out_max)
    if not (0.0 <= low < high <= 100.0):
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got low={low!r}, high={high!r}")
    lo, hi = np.percentile(image, [low, high])
    return _stretch(image, float(lo), float(hi), out_max)


def _histogram_lut(image: np.ndarray) -> np.ndarray:
    # Exact histogram of an 8/16-bit image; bincount over row strips keeps its
    # intp temporary small.
    n = int(np.iinfo(image.dtype).max) + 1
    counts = np.zeros(n, dtype=np.int64)
    flat = image.reshape(image.shape[0], -1)
    for start in range(0, flat.shape[0], 256):
        counts += np.bincount(flat[start:start + 256].ravel(), minlength=n)
    cdf = np.cumsum(counts).astype(np.float64)
    cdf /= cdf[-1]
    return cdf.astype(np.float32)


def equalize_hist(image: np.ndarray, *, nbins: int = 256) -> np.ndarray:
    """Global histogram equalisation.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Integer or floating-point intensities. Not modified.
    nbins : int, optional
        Histogram bins for floating-point and >16-bit input (8- and 16-bit
        unsigned images use their exact histogram).

    Returns
    -------
    out : ndarray, float32, same shape as ``image``, values in ``[0, 1]``
        Each value replaced by the fraction of pixels at or below it.
    """
    image = _check_image(image)
    if int(nbins) < 2:
        raise ValueError(f"nbins must be at least 2, got {nbins!r}")
    if image.dtype in (np.uint8, np.uint16):
        return _histogram_lut(image)[image]
    from skimage import exposure

    return exposure.equalize_hist(image.astype(np.float32, copy=False), nbins=int(nbins)).astype(np.float32)


def invert(image: np.ndarray, *, value_range: str = "dtype") -> np.ndarray:
    """Intensity inversion (the P-NET paper's augmentation): dark becomes bright.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Not modified.
    value_range : {"dtype", "image"}, optional
        ``"dtype"``: unsigned integers become ``dtype_max - x``, signed
        integers ``-1 - x`` (bitwise not), floats ``1 - x`` (floats are taken
        to lie in ``[0, 1]``). ``"image"``: ``min + max - x`` with the image's
        own range, so the output spans the same values as the input.

    Returns
    -------
    out : ndarray, same dtype and shape as ``image``
    """
    image = _check_image(image)
    if value_range == "image":
        lo, hi = image.min(), image.max()
        if np.issubdtype(image.dtype, np.integer):
            # lo + hi - x stays within [lo, hi], so it cannot overflow once
            # computed in a wide enough type.
            return (np.int64(lo) + np.int64(hi) - image.astype(np.int64)).astype(image.dtype)
        return (lo + hi) - image
    if value_range != "dtype":
        raise ValueError(f"value_range must be 'dtype' or 'image', got {value_range!r}")
    if image.dtype == np.bool_:
        return ~image
    if np.issubdtype(image.dtype, np.unsignedinteger):
        return np.iinfo(image.dtype).max - image
    if np.issubdtype(image.dtype, np.integer):
        return np.invert(image)
    return image.dtype.type(1) - image


def to_unit_float(image: np.ndarray) -> np.ndarray:
    """An image as float32 in ``[0, 1]``: integers divided by their dtype maximum.

    Floating-point input is taken to be in ``[0, 1]`` already and only cast
    (and clipped). Returns a new float32 array; the input is not modified.
    """
    image = _check_image(image)
    if image.dtype == np.bool_:
        return image.astype(np.float32)
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        out = image.astype(np.float32)
        if info.min < 0:
            out -= np.float32(info.min)
        out *= np.float32(1.0 / (float(info.max) - float(info.min)))
        return out
    return np.clip(image.astype(np.float32, copy=True), 0.0, 1.0)
