"""Does a window show the image's pixels at all?

Some files carry a window that misses their own pixel data: a DX from
pylibjpeg's test set says C 2725 W 5310 (values 70 to 5380) while its pixels
run from 32744 to 65535, so under its own window every pixel is white and the
reader sees a blank image with no hint why. This module measures how much of
a frame's histogram a window covers, from the histogram a viewer already has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this fraction of pixels inside the window, the window is said to miss the data.
# A window that misses has ~0 % inside; a narrow clinical window (bone, dense tissue)
# still holds several percent of a frame's pixels.
MIN_COVERED = 0.01


@dataclass(frozen=True)
class WindowCoverage:
    """The fraction of a frame's pixels whose modality values lie inside a window, and the data's range."""

    covered: float
    data_low: float
    data_high: float

    @property
    def misses(self) -> bool:
        return self.covered < MIN_COVERED


def window_coverage(counts: np.ndarray, edges: np.ndarray, center: float, width: float) -> WindowCoverage:
    """How much of a histogram (``counts`` in bins ``edges``, as ``np.histogram`` gives) lies in a window.

    The window is ``center - width / 2`` to ``center + width / 2`` (PS3.3
    C.11.2.1.2's LINEAR window to within half a value); a bin partly inside
    counts by the overlapping fraction of its width.

    Raises
    ------
    ValueError
        If ``edges`` does not have one more entry than ``counts``, or ``width`` is not positive.
    """
    counts = np.asarray(counts, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or counts.ndim != 1 or edges.size != counts.size + 1:
        raise ValueError(f"edges must have one more entry than counts, got {edges.size} and {counts.size}")
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    total = counts.sum()
    if total <= 0:
        return WindowCoverage(0.0, float(edges[0]), float(edges[-1]))
    low, high = center - width / 2.0, center + width / 2.0
    left, right = edges[:-1], edges[1:]
    overlap = np.clip(np.minimum(right, high) - np.maximum(left, low), 0.0, None)
    span = right - left
    # A zero-width bin (constant image) is inside when its value is.
    share = np.where(span > 0, overlap / np.where(span > 0, span, 1.0), ((left >= low) & (left <= high)).astype(float))
    covered = float((counts * share).sum() / total)
    filled = np.nonzero(counts)[0]
    return WindowCoverage(covered, float(edges[filled[0]]), float(edges[filled[-1] + 1]))
