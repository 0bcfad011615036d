"""A folder with one sub-folder per class (``busi-256/benign/...``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medvision_app.data.errors import DataError
from medvision_app.data.table import SampleTable

# DICOM files often have no extension at all, so those count as images too.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".dicom", ".pgm", ".ppm", ""}


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def read_class_folders(root: Path) -> SampleTable:
    """List the images of ``root/<class>/<file>``; classes are the sorted sub-folder names.

    Files directly in ``root`` (README, labels.csv, checksums) are ignored.
    Raises :class:`DataError` when there are fewer than two class folders or
    a class folder holds no images.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(class_dirs) < 2:
        found = ", ".join(p.name for p in class_dirs) or "none"
        raise DataError(
            f"{root}: expected one sub-folder per class (at least two), found {found}"
        )
    paths: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.rglob("*") if _is_image(p))
        if not files:
            raise DataError(f"{class_dir}: class folder holds no image files")
        paths.extend(files)
        labels.extend([label] * len(files))
    ids = [str(p.relative_to(root)) for p in paths]
    return SampleTable(
        source=str(root),
        class_names=[p.name for p in class_dirs],
        ids=ids,
        labels=np.asarray(labels, dtype=np.int64),
        paths=paths,
    )
