"""Opening PNG, JPEG, TIFF, BMP and PGM files, 8 and 16 bit, with Pillow."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import BinaryIO, Optional

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from medvision_app.imaging.display import DisplayPreset
from medvision_app.imaging.errors import ImageOpenError
from medvision_app.imaging.limits import check_declared_size, current_limits
from medvision_app.imaging.medical_image import MedicalImage


def _frame_array(frame: Image.Image) -> tuple[np.ndarray, int]:
    """One Pillow frame as (stored values, bits per sample)."""
    mode = frame.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(frame).astype(np.uint16, copy=False), 16
    if mode == "I":
        arr = np.asarray(frame)
        if arr.min() >= 0 and arr.max() <= 65535:
            return arr.astype(np.uint16), 16
        return arr.astype(np.int32), 32
    if mode == "F":
        return np.asarray(frame, dtype=np.float32), 32
    if mode in ("L", "1", "LA", "P", "PA") and (mode in ("L", "1", "LA") or _palette_is_gray(frame)):
        return np.asarray(frame.convert("L")), 8
    if mode == "RGB":
        return np.asarray(frame), 8
    # RGBA, CMYK, YCbCr, colour palettes: shown as RGB (alpha dropped).
    return np.asarray(frame.convert("RGB")), 8


def _first_words(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _palette_is_gray(frame: Image.Image) -> bool:
    if frame.mode not in ("P", "PA") or frame.palette is None:
        return False
    rgb = np.frombuffer(frame.palette.tobytes(), dtype=np.uint8)
    rgb = rgb[: len(rgb) // 3 * 3].reshape(-1, 3)
    return bool((rgb[:, 0] == rgb[:, 1]).all() and (rgb[:, 1] == rgb[:, 2]).all())


def read_raster(path: Path, fmt: str, fileobj: Optional[BinaryIO] = None) -> MedicalImage:
    """Decode a raster file (``fileobj``, when given, is read instead of opening ``path``).

    The declared size is checked against :mod:`~medvision_app.imaging.limits`
    after Pillow has read the header and before it decodes a pixel.
    """
    limit = current_limits().max_frame_pixels
    try:
        with warnings.catch_warnings():
            # Pillow warns between its limit and twice it; our own check below decides.
            warnings.simplefilter("ignore")
            Image.MAX_IMAGE_PIXELS = limit
            with Image.open(fileobj if fileobj is not None else path) as img:
                width, height = img.size
                check_declared_size(path, height, width, int(getattr(img, "n_frames", 1) or 1))
                arrays, bits = [], 8
                for frame in ImageSequence.Iterator(img):
                    arr, bits = _frame_array(frame)
                    arrays.append(arr)
    except ImageOpenError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageOpenError(path, f"the image is too large: {_first_words(exc)} (the limit is {limit:,} pixels "
                                   "per frame; set MEDVISION_MAX_FRAME_PIXELS to open larger images)") from None
    except UnidentifiedImageError as exc:
        raise ImageOpenError(path, f"not a readable {fmt} image") from exc
    except MemoryError:
        raise ImageOpenError(path, f"not enough memory to decode this {fmt} image") from None
    except Exception as exc:  # Pillow's plugins raise many types on malformed data
        raise ImageOpenError(path, f"{fmt} image data could not be decoded: {_first_words(exc)}") from exc
    if not arrays:
        raise ImageOpenError(path, f"the {fmt} file holds no image")
    if len({a.shape for a in arrays}) != 1:
        # Multi-page TIFFs sometimes hold a thumbnail page: keep the first page's size.
        arrays = [a for a in arrays if a.shape == arrays[0].shape]
    frames = np.stack(arrays)
    presets = []
    if frames.ndim == 3 and bits == 8:
        # An 8-bit export is shown exactly as stored, not stretched.
        presets = [DisplayPreset("Full scale (0-255)", center=127.5, width=255.0, function="LINEAR_EXACT")]
    return MedicalImage(
        path=path,
        frames=frames,
        photometric="RGB" if frames.ndim == 4 else "MONOCHROME2",
        format=fmt,
        presets=presets,
        bits_stored=bits,
    )
