"""How large an image MedVision agrees to decode, checked before any pixel is allocated.

A header is a claim, not a fact: 300 KB of PNG or DICOM can declare a
30000 x 30000 image, and the decoders allocate what the header says. Every
reader checks the declared size against these limits (and, where the data
bounds the size, against the data actually present) first.

The defaults admit an 8000 x 8000, 16-bit image (the largest mammography and
pathology frames) and multi-frame studies of 16 such frames; the limits are
set with the environment variables ``MEDVISION_MAX_FRAME_PIXELS`` and
``MEDVISION_MAX_IMAGE_PIXELS`` (integers, pixels), or :func:`set_limits`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Union

from medvision_app.imaging.errors import ImageOpenError

DEFAULT_MAX_FRAME_PIXELS = 100_000_000  # 10000 x 10000: 8000 x 8000 with room
DEFAULT_MAX_IMAGE_PIXELS = 1_100_000_000  # 16 frames of 8000 x 8000, and some


@dataclass(frozen=True)
class ImageLimits:
    """``max_frame_pixels``: rows x columns of one frame; ``max_image_pixels``: of all frames together."""

    max_frame_pixels: int = DEFAULT_MAX_FRAME_PIXELS
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS

    def __post_init__(self) -> None:
        for name in ("max_frame_pixels", "max_image_pixels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


_override: Optional[ImageLimits] = None


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise ValueError(f"{name}={text!r} is not an integer number of pixels") from None
    if value < 1:
        raise ValueError(f"{name}={text!r} must be at least 1")
    return value


def current_limits() -> ImageLimits:
    """:func:`set_limits`' value, else the environment's, else the defaults."""
    if _override is not None:
        return _override
    return ImageLimits(
        _env_int("MEDVISION_MAX_FRAME_PIXELS", DEFAULT_MAX_FRAME_PIXELS),
        _env_int("MEDVISION_MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS),
    )


def set_limits(limits: Optional[ImageLimits] = None, **changes: int) -> ImageLimits:
    """Replace the limits for this process (``None`` and no changes: back to the environment's)."""
    global _override
    if limits is None and not changes:
        _override = None
        return current_limits()
    _override = replace(limits or current_limits(), **changes)
    return _override


def check_declared_size(path: Union[str, Path], rows: int, columns: int, frames: int = 1) -> None:
    """Refuse an image whose header declares no pixels, or more than the limits allow.

    Raises
    ------
    ImageOpenError
        Naming the declared size and the limit (and how to raise it).
    """
    limits = current_limits()
    if rows <= 0 or columns <= 0 or frames <= 0:
        raise ImageOpenError(path, f"the header declares an empty image ({columns} x {rows}, {frames} frame(s))")
    if rows * columns > limits.max_frame_pixels:
        raise ImageOpenError(
            path,
            f"the image is too large: {columns} x {rows} = {rows * columns:,} pixels per frame, more than the "
            f"limit of {limits.max_frame_pixels:,} (set MEDVISION_MAX_FRAME_PIXELS to open larger images)",
        )
    if rows * columns * frames > limits.max_image_pixels:
        raise ImageOpenError(
            path,
            f"the image is too large: {frames} frames of {columns} x {rows} = {rows * columns * frames:,} pixels, "
            f"more than the limit of {limits.max_image_pixels:,} (set MEDVISION_MAX_IMAGE_PIXELS to open larger "
            "images)",
        )


def inflate_limit_bytes(samples: int = 1, bytes_per_sample: int = 2) -> int:
    """The most bytes a deflated data set may inflate to: the largest image allowed, plus its header."""
    return current_limits().max_image_pixels * samples * bytes_per_sample + (64 << 20)
