"""In-memory train/val/test arrays for a search, read with the data package's loaders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medvision_app.data.array_sources import read_medmnist, read_mnist
from medvision_app.data.errors import DataError
from medvision_app.data.table import SampleTable


@dataclass
class SearchData:
    """Float32 images ``(N, C, H, W)`` in [0, 1] and int64 labels per split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def read_table(path: str | Path) -> SampleTable:
    """A MedMNIST ``.npz`` (or a folder holding one) or an MNIST IDX folder."""
    path = Path(path)
    if path.is_file() and path.suffix == ".npz":
        return read_medmnist(path)
    if path.is_dir():
        if any(path.glob("train-images-idx3-ubyte*")):
            return read_mnist(path)
        npz = sorted(path.glob("*.npz"))
        if len(npz) == 1:
            return read_medmnist(npz[0])
    raise DataError(f"{path}: not a MedMNIST .npz nor a folder of MNIST IDX files")


def _stratified(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices keeping the class proportions (every class at least once)."""
    if n <= 0 or n >= len(labels):
        return np.arange(len(labels))
    picked = []
    classes, counts = np.unique(labels, return_counts=True)
    for cls, count in zip(classes, counts, strict=False):
        idx = np.flatnonzero(labels == cls)
        k = max(1, int(round(n * count / len(labels))))
        picked.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(picked))


def _as_float(arrays: np.ndarray) -> np.ndarray:
    x = arrays.astype(np.float32) / 255.0
    if x.ndim == 3:
        # reshape, not x[:, None]: that view has a zero stride on the channel
        # axis, which slices keep, and oneDNN's convolution weight gradient
        # corrupts the heap on such an input (seen as "double free" aborts).
        return x.reshape(x.shape[0], 1, *x.shape[1:])  # N x 1 x H x W
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # N x 3 x H x W


def load_search_data(
    path: str | Path,
    *,
    seed: int = 0,
    train_limit: int = 0,
    val_limit: int = 0,
    val_fraction: float = 0.1,
) -> SearchData:
    """Read the dataset and split it; the split depends only on ``seed`` and the limits.

    Raises
    ------
    DataError
        When the source cannot be read or lacks pixel arrays.
    """
    table = read_table(path)
    if table.arrays is None or table.splits is None:
        raise DataError(f"{path}: the search needs an in-memory array source with a split")
    splits = np.asarray(table.splits)
    rng = np.random.default_rng(seed)
    train = np.flatnonzero(splits == "train")
    val = np.flatnonzero(splits == "val")
    test = np.flatnonzero(splits == "test")
    if len(val) == 0:
        order = rng.permutation(train)
        n_val = max(1, int(round(len(train) * val_fraction)))
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
    train = train[_stratified(table.labels[train], train_limit, rng)]
    val = val[_stratified(table.labels[val], val_limit, rng)]
    x = table.arrays
    return SearchData(
        x_train=_as_float(x[train]), y_train=table.labels[train],
        x_val=_as_float(x[val]), y_val=table.labels[val],
        x_test=_as_float(x[test]), y_test=table.labels[test],
        class_names=list(table.class_names),
    )
