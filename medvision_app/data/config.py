"""Where the training data is and how it is split: dataclasses that round-trip to JSON/TOML."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, get_args

from medvision_app.utils.config_schema import option

DataFormat = Literal["auto", "folder", "csv", "medmnist", "ham10000", "dermamnist", "mnist"]
FORMATS = get_args(DataFormat)


@dataclass
class SplitConfig:
    """Train/validation/test ratios of a stratified split grouped by patient or lesion.

    The papers use 85/10/5, 70/20/10 and 90/10 (give ``[0.9, 0.1, 0.0]``).
    Sources with their own split (MedMNIST, DermaMNIST, MNIST) keep it when
    ``use_predefined`` is true; a missing validation split is then carved out
    of the training split with the ratio ``val / (train + val)``.
    """

    ratios: tuple[float, float, float] = option((0.85, 0.10, 0.05), help="Train, validation and test "
                                                "fractions; they add up to 1 and train is above 0.",
                                                range=(0.0, 1.0))
    seed: int = option(0, help="Seed of the random split.", range=(0, 2**32 - 1))
    use_predefined: bool = option(True, help="Keep the split a source ships with (MedMNIST, DermaMNIST, MNIST).")

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

    path: str = option("", help="Folder of class folders, CSV manifest, MedMNIST .npz, HAM10000, "
                       "DermaMNIST or MNIST folder.")
    format: DataFormat = option("auto", help="How to read path; auto recognises it by its shape.")
    image_root: Optional[str] = option(None, help="CSV manifests: the folder image paths are relative to.")
    group_column: Optional[str] = option(None, help="CSV manifests: the column of patient or lesion IDs whose "
                                         "images stay on one side of the split; empty: group, patient_id or "
                                         "lesion_id when present.")
    split: SplitConfig = option(help="How samples are split into train, validation and test.",
                                default_factory=SplitConfig)
    on_unreadable: Literal["fail", "skip"] = option("fail", help="fail stops at an image that does not open; "
                                                    "skip leaves it out and lists it.")
    use_metadata: bool = option(False, help="Read patient metadata (age, sex, site) for metadata fusion.")
    limit: Optional[int] = option(None, help="At most this many samples per split (quick trials).",
                                  range=(1, None), unit="images")
