"""Recognising a data source and reading its sample list."""

from __future__ import annotations

from pathlib import Path

from medvision_app.data.array_sources import read_medmnist, read_mnist
from medvision_app.data.config import DataConfig
from medvision_app.data.csv_sources import read_dermamnist_jpeg, read_ham10000, read_manifest
from medvision_app.data.errors import DataError
from medvision_app.data.folder_source import read_class_folders
from medvision_app.data.table import SampleTable


def detect_format(path: Path) -> str:
    """The source format of ``path`` (see :class:`DataConfig`), judged from its layout."""
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".npz":
            return "medmnist"
        if suffix == ".csv":
            return "csv"
        raise DataError(f"{path}: a data file must be a .npz (MedMNIST) or a .csv manifest")
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder")
    if (path / "HAM10000_metadata.csv").is_file():
        return "ham10000"
    if (path / "train-images-idx3-ubyte.gz").is_file() or (path / "train-images-idx3-ubyte").is_file():
        return "mnist"
    if (path / "labels.csv").is_file() and (path / "images").is_dir():
        return "dermamnist"
    return "folder"


def read_source(config: DataConfig, path: Path) -> SampleTable:
    """Read the sample list of the source at ``path`` (already resolved)."""
    fmt = detect_format(path) if config.format == "auto" else config.format
    if fmt == "folder":
        return read_class_folders(path)
    if fmt == "csv":
        return read_manifest(path, Path(config.image_root) if config.image_root else None, config.group_column)
    if fmt == "medmnist":
        return read_medmnist(path)
    if fmt == "ham10000":
        return read_ham10000(path)
    if fmt == "dermamnist":
        return read_dermamnist_jpeg(path)
    return read_mnist(path)
