"""Heatmap over image: colormaps, blending and PNG export (Pillow, no Qt)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from medvision_app.utils.atomic import atomic_write_bytes

# Anchor colours (RGB 0..1) interpolated linearly over [0, 1].
COLORMAPS: dict[str, np.ndarray] = {
    "jet": np.array([[0, 0, 0.5], [0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0], [0.5, 0, 0]], dtype=np.float32),
    "inferno": np.array([[0, 0, 0.016], [0.258, 0.039, 0.408], [0.578, 0.148, 0.404],
                         [0.865, 0.317, 0.226], [0.988, 0.645, 0.040], [0.988, 1.0, 0.643]], dtype=np.float32),
    "hot": np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=np.float32),
    "gray": np.array([[0, 0, 0], [1, 1, 1]], dtype=np.float32),
}


def _lut(colormap: str) -> np.ndarray:
    """256 x 3 uint8 table of a colormap (anchors interpolated linearly)."""
    anchors = COLORMAPS[colormap]
    pos = np.linspace(0.0, len(anchors) - 1, 256)
    low = np.minimum(pos.astype(np.int64), len(anchors) - 2)
    frac = (pos - low)[:, None]
    return np.round((anchors[low] * (1 - frac) + anchors[low + 1] * frac) * 255).astype(np.uint8)


def apply_colormap(heatmap: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """Map a [0, 1] heatmap (H, W) to uint8 RGB (H, W, 3) through a 256-entry table.

    Values outside [0, 1] are clipped; NaN counts as 0.
    """
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose one of {', '.join(COLORMAPS)}")
    arr = np.asarray(heatmap, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"heatmap must be 2-D (H, W), got shape {arr.shape}")
    index = np.rint(np.clip(np.nan_to_num(arr), 0.0, 1.0) * 255).astype(np.uint8)
    return _lut(colormap)[index]


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"image must be (H, W) or (H, W, 3), got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        return np.round(np.clip(arr, 0.0, 1.0) * 255).astype(np.uint8)
    raise ValueError(f"image must be uint8 or float in [0, 1], got {arr.dtype}")


def overlay_heatmap(
    image: np.ndarray,
    heatmap: np.ndarray,
    *,
    colormap: str = "jet",
    opacity: float = 0.4,
    threshold: float = 0.0,
) -> np.ndarray:
    """Blend a coloured heatmap over an image.

    Parameters
    ----------
    image : ndarray (H, W) or (H, W, 3), uint8 or float in [0, 1]
        What the viewer shows (``MedicalImage.display()``).
    heatmap : ndarray (H, W), float in [0, 1]
        Registered to ``image`` (same shape).
    colormap : str
        One of :data:`COLORMAPS`.
    opacity : float in [0, 1]
        Heatmap weight where it is shown.
    threshold : float in [0, 1)
        Heatmap values at or below it are not drawn (the image shows through).

    Returns
    -------
    ndarray, uint8, (H, W, 3). The inputs are not modified.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], got {opacity}")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    rgb = _as_rgb_uint8(image)
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.shape != rgb.shape[:2]:
        raise ValueError(f"heatmap shape {heat.shape} does not match image shape {rgb.shape[:2]}")
    shown = heat > threshold
    out = rgb.copy()
    # Blend only where the heatmap is shown; full-field mammograms have millions of pixels.
    blended = rgb[shown].astype(np.float32) * (1 - opacity) + apply_colormap(heat, colormap)[shown] * opacity
    out[shown] = np.round(blended).astype(np.uint8)
    return out


def png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    # Level 1: large overlays encode several times faster for a slightly bigger file.
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def save_overlay_png(path: str | Path, image: np.ndarray, heatmap: np.ndarray, **options) -> Path:
    """Write ``overlay_heatmap(image, heatmap, **options)`` as a PNG, atomically."""
    path = Path(path)
    atomic_write_bytes(path, png_bytes(overlay_heatmap(image, heatmap, **options)))
    return path


def heatmap_rgba(heatmap: np.ndarray, colormap: str = "jet", *, threshold: float = 0.0) -> np.ndarray:
    """A [0, 1] heatmap (H, W) as uint8 RGBA (H, W, 4): coloured, transparent at or below ``threshold``.

    What the viewer draws over the image; its opacity is applied when drawing,
    so dragging the opacity slider costs nothing here.
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose one of {', '.join(COLORMAPS)}")
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be 2-D (H, W), got shape {heat.shape}")
    # NaN compares false and fails the clip's purpose: zero it (as apply_colormap does), without its
    # full nan_to_num pass, which held the GUI thread up to 40 ms on a busy machine.
    clean = np.where(np.isnan(heat), np.float32(0), heat)
    index = (np.clip(clean, 0.0, 1.0) * np.float32(255) + np.float32(0.5)).astype(np.uint8)
    out = np.empty(heat.shape + (4,), dtype=np.uint8)
    out[..., :3] = _lut(colormap)[index]
    out[..., 3] = np.where(clean > threshold, 255, 0).astype(np.uint8)
    return out
