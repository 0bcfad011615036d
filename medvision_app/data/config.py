"""Where the training data is and how it is split: dataclasses that round-trip to JSON/TOML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

FORMATS = ("auto", "folder", "csv", "medmnist", "ham10000", "dermamnist", "mnist")


@dataclass
class SplitConfig:
    """Train/validation/test ratios of a stratified split grouped by patient or lesion.

    The papers use 85/10/5, 70/20/10 and 90/10 (give ``[0.9, 0.1, 0.0]``).
    Sources with their own split (MedMNIST, DermaMNIST, MNIST) keep it when
    ``use_predefined`` is true; a missing validation split is then carved out
    of the training split with the ratio ``val / (train + val)``.
    """

    ratios: tuple[float, float, float] = (0.85, 0.10, 0.05)
    seed: int = 0
    use_predefined: bool = True

    def __post_init__(self) -> None:
        ratios = tuple(float(r) for r in self.ratios)
        if len(ratios) != 3 or any(r < 0 for r in ratios) or ratios[0] <= 0:
            raise ValueError(f"split ratios {list(self.ratios)} must be three non-negative numbers, train > 0")
        if abs(sum(ratios) - 1.0) > 1e-6:
            raise ValueError(f"split ratios {list(self.ratios)} must add up to 1")
        self.ratios = ratios


@dataclass
class DataConfig:
    """The data source.

    ``path`` is a folder with one sub-folder per class, a CSV manifest, a
    MedMNIST ``.npz``, the HAM10000 folder (``HAM10000_metadata.csv`` and
    ``images/``), the DermaMNIST JPEG folder (``labels.csv`` and ``images/``)
    or the MNIST IDX folder. ``format = "auto"`` recognises them by shape.
    A relative ``path`` is resolved against the current working directory,
    then against the project root (the nearest folder above the config file
    holding ``pyproject.toml``); the run folder records the absolute path.

    ``on_unreadable``: ``"fail"`` stops at the first image that does not
    open; ``"skip"`` leaves it out and lists it in the run's report.
    ``limit`` keeps at most that many samples per split (quick trials).
    """

    path: str = ""
    format: str = "auto"
    image_root: Optional[str] = None  # CSV manifests: folder the image paths are relative to
    split: SplitConfig = field(default_factory=SplitConfig)
    on_unreadable: str = "fail"
    use_metadata: bool = False
    limit: Optional[int] = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"data.format {self.format!r} is not one of {list(FORMATS)}")
        if self.on_unreadable not in ("fail", "skip"):
            raise ValueError(f"data.on_unreadable {self.on_unreadable!r} is not 'fail' or 'skip'")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"data.limit {self.limit} must be at least 1")
