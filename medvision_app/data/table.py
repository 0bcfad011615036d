"""A source-independent list of labelled samples, before any pixels are read."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

SPLITS = ("train", "val", "test")


@dataclass
class SampleTable:
    """Labelled samples of one source.

    Exactly one of ``paths`` (files opened with :func:`medvision_app.imaging.open_image`)
    and ``arrays`` (``(N, H, W)`` or ``(N, H, W, 3)`` uint8 pixels) is set.
    ``groups`` are patient or lesion IDs that must never straddle two
    splits; ``splits`` is the source's own split, if it has one. ``age`` is
    NaN where unknown; ``sex`` and ``site`` use ``"unknown"``.
    """

    source: str
    class_names: list[str]
    ids: list[str]
    labels: np.ndarray
    paths: Optional[list[Path]] = None
    arrays: Optional[np.ndarray] = None
    groups: Optional[list[str]] = None
    splits: Optional[list[str]] = None
    age: Optional[np.ndarray] = None
    sex: Optional[list[str]] = None
    site: Optional[list[str]] = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_metadata(self) -> bool:
        return self.age is not None or self.sex is not None or self.site is not None

    def display(self, i: int) -> np.ndarray:
        """Sample ``i`` as a float display image in [0, 1], what the model input is made from.

        Raises :class:`~medvision_app.imaging.ImageOpenError` for a file that cannot be opened.
        """
        if self.arrays is not None:
            raw = self.arrays[i]
            return raw.astype(np.float32) / 255.0 if raw.dtype == np.uint8 else raw.astype(np.float32)
        from medvision_app.imaging import open_image

        return open_image(self.paths[i]).display_float(0)

    def subset(self, index: Sequence[int] | np.ndarray) -> "SampleTable":
        idx = np.asarray(index, dtype=np.int64)

        def pick(values):
            if values is None:
                return None
            if isinstance(values, np.ndarray):
                return values[idx]
            return [values[i] for i in idx]

        return replace(
            self,
            ids=pick(self.ids),
            labels=self.labels[idx],
            paths=pick(self.paths),
            arrays=pick(self.arrays),
            groups=pick(self.groups),
            splits=pick(self.splits),
            age=pick(self.age),
            sex=pick(self.sex),
            site=pick(self.site),
        )
