"""Sources whose pixels come as arrays: MedMNIST ``.npz`` and MNIST IDX files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from medvision_app.data.errors import DataError
from medvision_app.data.files import open_data_file
from medvision_app.data.table import SPLITS, SampleTable

# MedMNIST files carry no class names; these are the official ones for the
# files MedVision knows, others fall back to "0", "1", ...
MEDMNIST_CLASSES = {
    "breastmnist": ["malignant", "normal, benign"],
    "pneumoniamnist": ["normal", "pneumonia"],
    "dermamnist": ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"],
}


def read_medmnist(path: Path) -> SampleTable:
    """Read a MedMNIST ``.npz`` with its own train/val/test split."""
    path = Path(path)
    fh = open_data_file(path)
    try:
        npz = np.load(fh)
    except (OSError, ValueError, EOFError) as exc:
        fh.close()
        raise DataError(f"{path}: cannot read as a MedMNIST .npz: {exc}") from None
    with fh, npz:
        missing = [f"{s}_{k}" for s in SPLITS for k in ("images", "labels") if f"{s}_{k}" not in npz.files]
        if missing:
            raise DataError(f"{path}: missing array(s) {', '.join(missing)}")
        images, labels, splits = [], [], []
        for split in SPLITS:
            imgs = npz[f"{split}_images"]
            labs = npz[f"{split}_labels"]
            if labs.ndim == 2 and labs.shape[1] > 1:
                raise DataError(f"{path}: multi-label MedMNIST files are not supported")
            images.append(imgs)
            labels.append(labs.reshape(-1).astype(np.int64))
            splits.extend([split] * len(imgs))
    arrays = np.concatenate(images)
    label_arr = np.concatenate(labels)
    n_classes = int(label_arr.max()) + 1
    names = MEDMNIST_CLASSES.get(path.stem.lower().split("_")[0])
    if names is None or len(names) != n_classes:
        names = [str(i) for i in range(n_classes)]
    ids = [f"{s}_{i:05d}" for s in SPLITS for i in range(splits.count(s))]
    return SampleTable(
        source=str(path), class_names=names, ids=ids, labels=label_arr, arrays=arrays, splits=splits
    )


def _read_idx(path: Path) -> np.ndarray:
    try:
        with open_data_file(path) as raw, (gzip.open(raw, "rb") if path.suffix == ".gz" else raw) as fh:
            data = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise DataError(f"{path}: IDX header says {dims} but holds {len(data) - offset} values")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _find(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise DataError(f"{root}: missing MNIST file {stem}.gz")


def read_mnist(root: Path) -> SampleTable:
    """Read the MNIST IDX files (``train-*`` and ``t10k-*``, gzipped or not)."""
    root = Path(root)
    parts = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _read_idx(_find(root, f"{prefix}-images-idx3-ubyte"))
        labels = _read_idx(_find(root, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
        if len(images) != len(labels):
            raise DataError(f"{root}: {split} has {len(images)} images but {len(labels)} labels")
        parts[split] = (images, labels)
    arrays = np.concatenate([parts["train"][0], parts["test"][0]])
    labels = np.concatenate([parts["train"][1], parts["test"][1]])
    splits = ["train"] * len(parts["train"][1]) + ["test"] * len(parts["test"][1])
    ids = [f"{s}_{i:05d}" for s, n in (("train", len(parts["train"][1])), ("test", len(parts["test"][1]))) for i in range(n)]
    return SampleTable(
        source=str(root), class_names=[str(i) for i in range(10)], ids=ids, labels=labels, arrays=arrays, splits=splits
    )
