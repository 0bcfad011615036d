"""Where each output pixel of a preprocessing pipeline came from.

Resizing, padding and cropping are all axis-aligned maps of the form
``output = input * scale + offset`` per axis, in continuous pixel coordinates
(pixel ``i`` covers ``[i, i + 1)``, its centre is ``i + 0.5``). A chain of them
is again one such map, so a :class:`Geometry` composes exactly and can be
inverted: the heatmap code maps model-space results back onto the original
image with :meth:`Geometry.to_original`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Geometry"]


@dataclass(frozen=True)
class Geometry:
    """An axis-aligned map from an input image to an output image.

    Attributes
    ----------
    input_shape, output_shape : (rows, columns)
    scale : (row, column) factors, output pixels per input pixel
    offset : (row, column) output position of the input's top-left corner;
        positive means padding before the image, negative means cropping.
    """

    input_shape: tuple[int, int]
    output_shape: tuple[int, int]
    scale: tuple[float, float] = (1.0, 1.0)
    offset: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if min(self.scale) <= 0:
            raise ValueError(f"scale must be positive, got {self.scale}")

    @classmethod
    def identity(cls, shape: tuple[int, ...]) -> "Geometry":
        rows, cols = int(shape[0]), int(shape[1])
        return cls((rows, cols), (rows, cols))

    @property
    def is_identity(self) -> bool:
        return (self.input_shape == self.output_shape and self.scale == (1.0, 1.0)
                and self.offset == (0.0, 0.0))

    def then(self, after: "Geometry") -> "Geometry":
        """This map followed by ``after`` (whose input is this map's output)."""
        if tuple(after.input_shape) != tuple(self.output_shape):
            raise ValueError(
                f"cannot compose: output shape {self.output_shape} is not the next input shape {after.input_shape}"
            )
        scale = tuple(a * b for a, b in zip(self.scale, after.scale, strict=False))
        offset = tuple(o * s + o2 for o, s, o2 in zip(self.offset, after.scale, after.offset, strict=False))
        return Geometry(self.input_shape, after.output_shape, scale, offset)  # type: ignore[arg-type]

    def to_output_points(self, points: np.ndarray) -> np.ndarray:
        """Map ``(N, 2)`` (row, column) pixel positions of the input to the output."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        s, o = np.asarray(self.scale), np.asarray(self.offset)
        return (pts + 0.5) * s + o - 0.5

    def to_original_points(self, points: np.ndarray) -> np.ndarray:
        """Map ``(N, 2)`` (row, column) pixel positions of the output back to the input."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        s, o = np.asarray(self.scale), np.asarray(self.offset)
        return (pts + 0.5 - o) / s - 0.5

    @property
    def crop_box(self) -> tuple[float, float, float, float]:
        """``(top, left, bottom, right)`` of the input region visible in the output.

        In input pixel units, bottom/right exclusive; fractional after a resize.
        """
        box = []
        for size_in, size_out, s, o in zip(self.input_shape, self.output_shape, self.scale, self.offset, strict=False):
            start = max(0.0, (0.0 - o) / s)
            stop = min(float(size_in), (size_out - o) / s)
            box.append((start, stop))
        (top, bottom), (left, right) = box
        return top, left, bottom, right

    @property
    def padding(self) -> tuple[float, float, float, float]:
        """``(top, left, bottom, right)`` output pixels not covered by the input."""
        pads = []
        for size_in, size_out, s, o in zip(self.input_shape, self.output_shape, self.scale, self.offset, strict=False):
            pads.append((max(0.0, o), max(0.0, size_out - (o + size_in * s))))
        (top, bottom), (left, right) = pads
        return top, left, bottom, right

    def to_original(self, heatmap: np.ndarray, original_shape: tuple[int, int] | None = None,
                    *, fill: float = 0.0) -> np.ndarray:
        """Resample an output-space map (a heatmap) onto the original image grid.

        Parameters
        ----------
        heatmap : (h, w) ndarray
            Covers the whole output image; it may be coarser (a CNN's 7x7
            class activation map over a 224x224 input is fine).
        original_shape : (rows, columns), optional
            Grid to produce; defaults to :attr:`input_shape`. A different shape
            is taken to be the same field of view at another resolution (the
            full-resolution mammogram when the pipeline ran on a reduced copy).
        fill : float, optional
            Value for original pixels that the output does not show (cropped away).

        Returns
        -------
        out : ndarray, float32, shape ``original_shape``
            Bilinear interpolation of ``heatmap`` at each original pixel centre.
        """
        hm = np.asarray(heatmap, dtype=np.float32)
        if hm.ndim != 2 or hm.size == 0:
            raise ValueError(f"heatmap must be a non-empty 2-D array, got shape {hm.shape}")
        target = tuple(int(v) for v in (original_shape or self.input_shape))
        if len(target) != 2 or min(target) < 1:
            raise ValueError(f"original_shape must be (rows, columns), got {original_shape!r}")
        axes = []
        for axis in range(2):
            n = target[axis]
            centres = (np.arange(n, dtype=np.float64) + 0.5) * (self.input_shape[axis] / n)
            out_pos = centres * self.scale[axis] + self.offset[axis]
            inside = (out_pos >= 0) & (out_pos < self.output_shape[axis])
            idx = out_pos * (hm.shape[axis] / self.output_shape[axis]) - 0.5
            idx = np.clip(idx, 0.0, hm.shape[axis] - 1)
            lo = np.floor(idx).astype(np.int64)
            hi = np.minimum(lo + 1, hm.shape[axis] - 1)
            axes.append((lo, hi, (idx - lo).astype(np.float32), inside))
        (r0, r1, wr, in_r), (c0, c1, wc, in_c) = axes
        rows = hm[r0] * (1.0 - wr)[:, None] + hm[r1] * wr[:, None]  # n_rows x w
        out = rows[:, c0] * (1.0 - wc)[None, :] + rows[:, c1] * wc[None, :]
        if not (in_r.all() and in_c.all()):
            out[~in_r, :] = fill
            out[:, ~in_c] = fill
        return out.astype(np.float32, copy=False)
