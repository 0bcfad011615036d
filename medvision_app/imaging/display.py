"""Stored pixel values to display values: Modality LUT, VOI, presentation.

Pure functions on numpy arrays. The order is the DICOM grayscale pipeline
(PS3.4 N.2.1, PS3.3 C.11): stored values -> Modality LUT (Rescale Slope /
Intercept or a Modality LUT Sequence) -> VOI (a window with VOI LUT Function
LINEAR, LINEAR_EXACT or SIGMOID, or a VOI LUT Sequence) -> presentation
(MONOCHROME1 is inverted *after* the VOI step, PS3.3 C.7.6.3.1.2).

For integer stored values the whole chain is folded into one lookup table
indexed by the stored value, so a 12-megapixel mammogram costs one table
lookup rather than several float passes over the image.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import numpy as np

VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


@dataclass(frozen=True)
class ModalityLut:
    """Rescale slope/intercept, or an explicit lookup table (Modality LUT Sequence)."""

    slope: float = 1.0
    intercept: float = 0.0
    lut: Optional[np.ndarray] = None  # output values of the LUT sequence
    lut_first: int = 0  # first stored value the LUT maps

    @property
    def is_identity(self) -> bool:
        return self.lut is None and self.slope == 1.0 and self.intercept == 0.0


@dataclass(frozen=True)
class DisplayPreset:
    """A named VOI transform: a window (center/width/function) or a VOI LUT table."""

    name: str
    center: Optional[float] = None
    width: Optional[float] = None
    function: str = "LINEAR"
    lut: Optional[np.ndarray] = None  # VOI LUT entries normalised to [0, 1]
    lut_first: int = 0

    def __post_init__(self) -> None:
        if self.function not in VOI_FUNCTIONS:
            raise ValueError(f"VOI LUT function {self.function!r} is not one of {VOI_FUNCTIONS}")
        if self.lut is None and (self.center is None or self.width is None):
            raise ValueError(f"preset {self.name!r} needs a center and width, or a LUT")
        if self.lut is None and not (np.isfinite(self.center) and np.isfinite(self.width)):
            # A NaN or infinite window shows every pixel as one flat value.
            raise ValueError(f"preset {self.name!r}: center {self.center} and width {self.width} must be finite numbers")
        if self.lut is not None and not np.isfinite(np.asarray(self.lut, dtype=np.float64)).all():
            raise ValueError(f"preset {self.name!r}: the VOI LUT holds values that are not finite numbers")

    @property
    def is_window(self) -> bool:
        return self.lut is None


def apply_modality_lut(arr: np.ndarray, modality: ModalityLut) -> np.ndarray:
    """Stored values to modality values (float32), e.g. Hounsfield units.

    Returns ``arr`` unchanged (same object) when the transform is the identity.
    """
    if modality.is_identity:
        return arr
    if modality.lut is not None:
        idx = np.clip(arr.astype(np.int64) - modality.lut_first, 0, len(modality.lut) - 1)
        return modality.lut[idx].astype(np.float32)
    out = arr.astype(np.float32)
    if modality.slope != 1.0:
        out *= np.float32(modality.slope)
    if modality.intercept != 0.0:
        out += np.float32(modality.intercept)
    return out


def window(
    values: np.ndarray,
    center: float,
    width: float,
    *,
    function: str = "LINEAR",
    out_max: float = 255.0,
) -> np.ndarray:
    """Apply a VOI window to modality values, giving float32 in ``[0, out_max]``.

    Implements PS3.3 C.11.2.1.2 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT) and
    C.11.2.1.3.1 (SIGMOID).

    Raises
    ------
    ValueError
        If ``width`` is not valid for the function (LINEAR needs width >= 1,
        the others width > 0) or the function is unknown.
    """
    x = np.asarray(values, dtype=np.float32)
    c, w = float(center), float(width)
    if function == "LINEAR":
        if w < 1:
            raise ValueError(f"window width {w} is invalid for LINEAR (must be >= 1)")
        if w == 1:
            # (w-1) is 0: a pure threshold at c - 0.5.
            return np.where(x <= c - 0.5, 0.0, out_max).astype(np.float32)
        y = ((x - (c - 0.5)) / (w - 1) + 0.5) * out_max
    elif function == "LINEAR_EXACT":
        if w <= 0:
            raise ValueError(f"window width {w} is invalid for LINEAR_EXACT (must be > 0)")
        y = ((x - c) / w + 0.5) * out_max
    elif function == "SIGMOID":
        if w <= 0:
            raise ValueError(f"window width {w} is invalid for SIGMOID (must be > 0)")
        return (out_max / (1.0 + np.exp(-4.0 * (x - c) / w))).astype(np.float32)
    else:
        raise ValueError(f"VOI LUT function {function!r} is not one of {VOI_FUNCTIONS}")
    return np.clip(y, 0.0, out_max).astype(np.float32)


def apply_voi_lut_table(values: np.ndarray, lut: np.ndarray, lut_first: int, *, out_max: float = 255.0) -> np.ndarray:
    """Apply a VOI LUT Sequence table (entries normalised to [0, 1]) -> float32 ``[0, out_max]``.

    Values outside the table's domain take its first or last entry (PS3.3 C.11.2.1.1).
    """
    table = np.asarray(lut, dtype=np.float32) * np.float32(out_max)
    idx = np.clip(np.asarray(values).astype(np.int64) - int(lut_first), 0, len(table) - 1)
    return table[idx]


def full_range_preset(values: np.ndarray) -> DisplayPreset:
    """A LINEAR_EXACT window spanning ``values.min()..values.max()`` (the fallback)."""
    cv2 = _cv2() if values.size >= (1 << 21) else None
    if cv2 is not None and values.ndim == 2 and values.dtype in (np.uint8, np.uint16, np.int16, np.float32):
        lo, hi, _, _ = cv2.minMaxLoc(values)  # one pass for both
    elif values.size >= (1 << 21) and (os.cpu_count() or 1) > 1:
        # Reductions release the GIL: min and max run side by side.
        lo, hi = (float(v) for v in _pool().map(lambda f: f(values), (np.min, np.max)))
    else:
        lo, hi = float(np.min(values)), float(np.max(values))
    width = max(hi - lo, 1e-6)
    return DisplayPreset("Full range", center=(lo + hi) / 2.0, width=width, function="LINEAR_EXACT")


def _voi_float(values: np.ndarray, preset: DisplayPreset, out_max: float) -> np.ndarray:
    if preset.lut is not None:
        return apply_voi_lut_table(values, preset.lut, preset.lut_first, out_max=out_max)
    return window(values, preset.center, preset.width, function=preset.function, out_max=out_max)


def to_display(
    stored: np.ndarray,
    modality: ModalityLut,
    preset: DisplayPreset,
    *,
    invert: bool = False,
) -> np.ndarray:
    """Stored grayscale values to an 8-bit display image.

    Parameters
    ----------
    stored : ndarray, (H, W)
        Stored pixel values, any integer or float dtype. Not modified.
    modality : ModalityLut
        The image's Modality LUT.
    preset : DisplayPreset
        The VOI transform, applied to the modality values.
    invert : bool
        True for MONOCHROME1 (applied after the VOI, as the standard requires),
        or when the user asks for an inverted view.

    Returns
    -------
    ndarray of uint8, (H, W)
    """
    if stored.size > 65536:
        fast = _linear_window_cv(stored, modality, preset, invert)
        if fast is not None:
            return fast
    if stored.dtype.itemsize <= 2 and stored.dtype.kind in "ui" and stored.size > 65536:
        # Every 8/16-bit stored value gets one table entry, so the whole chain
        # costs a single lookup per pixel. Signed data index the table through
        # an unsigned view (two's complement), which needs no arithmetic pass.
        bits = 8 * stored.dtype.itemsize
        domain = np.arange(1 << bits, dtype=np.int64)
        if stored.dtype.kind == "i":
            domain[domain >= (1 << (bits - 1))] -= 1 << bits
        table = _chain(domain, modality, preset, invert)
        if bits == 8 and stored.ndim == 2 and _cv2() is not None:
            return _cv2().LUT(stored.view(np.uint8), table)
        index = stored.view(np.uint8 if bits == 8 else np.uint16)
        return lookup(table, index)
    return _chain(stored, modality, preset, invert)


def _linear_window_cv(
    stored: np.ndarray, modality: ModalityLut, preset: DisplayPreset, invert: bool
) -> Optional[np.ndarray]:
    """A LINEAR / LINEAR_EXACT window over a rescale, in OpenCV's SIMD kernels.

    Both functions are ``y = clip(alpha * x + beta, 0, 255)`` on stored values
    (PS3.3 C.11.2.1.2 and C.11.2.1.3.2 unfold to that exactly). OpenCV does it
    in two multithreaded passes, about 6x faster than a table lookup on a
    12-megapixel mammogram, which is what keeps window/level dragging smooth.
    Returns None where this does not apply (other functions, LUT tables,
    decreasing rescales, dtypes OpenCV lacks); the caller then uses the table.
    """
    if not preset.is_window or preset.function == "SIGMOID" or modality.lut is not None:
        return None
    # 8-bit data go through a 256-entry table instead (cv2.LUT): exact, and
    # OpenCV's fixed-point 8-bit scaling can be two grey levels off.
    if stored.ndim != 2 or stored.dtype not in (np.uint16, np.int16, np.float32) or modality.slope <= 0:
        return None
    cv2 = _cv2()
    if cv2 is None:
        return None
    c, w = float(preset.center), float(preset.width)
    if preset.function == "LINEAR":
        if w < 1:
            raise ValueError(f"window width {w} is invalid for LINEAR (must be >= 1)")
        if w == 1:
            return None
        c, w = c - 0.5, w - 1.0
    elif w <= 0:
        raise ValueError(f"window width {w} is invalid for LINEAR_EXACT (must be > 0)")
    alpha = modality.slope * 255.0 / w
    beta = ((modality.intercept - c) / w + 0.5) * 255.0
    # convertScaleAbs saturates above 255 but takes |y| below 0, so first
    # raise every value to the smallest one that maps to y >= 0.
    floor_x = -beta / alpha
    if stored.dtype.kind in "ui":
        floor_x = float(np.ceil(floor_x - 1e-9))
    info_min = float(np.iinfo(stored.dtype).min) if stored.dtype.kind in "ui" else -np.inf
    source = stored if floor_x <= info_min else cv2.max(stored, floor_x)
    out = cv2.convertScaleAbs(source, alpha=alpha, beta=beta)
    return cv2.bitwise_not(out) if invert else out


_CV2 = None


def _cv2():
    global _CV2
    if _CV2 is None:
        try:
            import cv2
        except ImportError:  # the table path covers everything, only slower
            cv2 = False
        _CV2 = cv2
    return _CV2 or None


_POOL: Optional[ThreadPoolExecutor] = None
_WORKERS = min(os.cpu_count() or 1, 8)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="medvision-pixels")
    return _POOL


def lookup(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[index]`` for a large index array, split over the CPU cores.

    ``np.take`` releases the GIL, so row bands run truly in parallel; on a
    12-megapixel mammogram this halves the cost on two cores.
    """
    workers = _WORKERS
    if workers == 1 or index.ndim < 2 or index.size < (1 << 21):
        return np.take(table, index, mode="clip")
    out = np.empty(index.shape, dtype=table.dtype)
    rows = index.shape[0]
    bands = [slice(i * rows // (2 * workers), (i + 1) * rows // (2 * workers)) for i in range(2 * workers)]
    for _ in _pool().map(lambda band: np.take(table, index[band], mode="clip", out=out[band]), bands):
        pass
    return out


def color_to_uint8(arr: np.ndarray, bits_stored: int, invert: bool = False) -> np.ndarray:
    """RGB stored values to uint8, scaled by ``bits_stored`` when wider than 8 bits."""
    if arr.dtype == np.uint8:
        out = arr
    else:
        top = float((1 << bits_stored) - 1) if bits_stored > 0 else float(arr.max() or 1)
        out = np.rint(np.clip(arr.astype(np.float32) / top, 0.0, 1.0) * 255.0).astype(np.uint8)
    return 255 - out if invert else out


def _chain(values: np.ndarray, modality: ModalityLut, preset: DisplayPreset, invert: bool) -> np.ndarray:
    y = _voi_float(apply_modality_lut(values, modality), preset, 255.0)
    if invert:
        y = 255.0 - y
    return np.rint(y).astype(np.uint8)
