"""Preview of augmentation settings for the GUI's grid and ``medvision augment-preview``."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from medvision_app.augmentation.config import AugmentationConfig

__all__ = ["preview", "montage"]


def preview(image: np.ndarray, config: AugmentationConfig, n: int = 9, seed: int = 0) -> list[np.ndarray]:
    """``n`` augmented variants of ``image``; the same ``seed`` gives the same variants.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Float in ``[0, 1]`` or integer (divided by its dtype maximum). Not modified.
    config : AugmentationConfig
    n : int
        Number of variants, at least 1.
    seed : int
        Seed of the variants' random generator.

    Returns
    -------
    list of ndarray, float32, each of ``image``'s shape, in ``[0, 1]``
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    from medvision_app.augmentation.augmenter import build_augmenter  # torch: only when variants are drawn

    augment = build_augmenter(config)
    gen = np.random.default_rng(seed)
    return [augment(image, gen) for _ in range(int(n))]


def montage(images: Sequence[np.ndarray], *, columns: int | None = None, gap: int = 4) -> np.ndarray:
    """Tile same-shaped ``[0, 1]`` images into one uint8 grid (``ceil(sqrt(n))`` columns by default).

    Returns ``(rows*H + gaps, columns*W + gaps)`` uint8, plus a channel axis
    when the images have one; gaps are black.
    """
    if not images:
        raise ValueError("montage needs at least one image")
    shape = images[0].shape
    if any(im.shape != shape for im in images):
        raise ValueError(f"montage images must share one shape, got {sorted({im.shape for im in images})}")
    cols = columns or math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
    h, w = shape[:2]
    grid = np.zeros((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap) + shape[2:], dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        tile = np.rint(np.clip(im, 0.0, 1.0) * 255.0).astype(np.uint8)
        grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    return grid
