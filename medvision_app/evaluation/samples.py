"""Finding a test sample's pixels from its id in ``predictions.csv``, for the gallery of mistakes.

Ids are what the data sources wrote: ``<split>_<index>`` for MedMNIST/MNIST
arrays, a path relative to the data folder for image folders and CSV
tables. A sample that cannot be found is None, never an exception: a run
folder may outlive the data it was trained on.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Optional, Union

import numpy as np

_ARRAY_ID = re.compile(r"^(train|val|test)_(\d+)$")


@lru_cache(maxsize=4)
def _npz_split(path: str, split: str) -> Optional[np.ndarray]:
    try:
        with np.load(path) as npz:
            key = f"{split}_images"
            return np.asarray(npz[key]) if key in npz.files else None
    except (OSError, ValueError):
        return None


def sample_source(config: dict, sample_id: str) -> Union[Path, np.ndarray, None]:
    """A file path for file-based data, the image array (uint8) for array data sets, or None."""
    data = config.get("data", {}) if isinstance(config.get("data"), dict) else {}
    facts = config.get("run", {}) if isinstance(config.get("run"), dict) else {}
    root = Path(str(data.get("path") or facts.get("data_path") or ""))
    if not str(root):
        return None
    match = _ARRAY_ID.match(sample_id)
    if match and root.suffix == ".npz" and root.is_file():
        images = _npz_split(str(root), match.group(1))
        index = int(match.group(2))
        if images is not None and index < len(images):
            return images[index]
        return None
    bases = [Path(str(data["image_root"]))] if data.get("image_root") else []
    bases += [root if root.is_dir() else root.parent]
    for base in bases:
        candidate = base / sample_id
        if candidate.is_file():
            return candidate
    candidate = Path(sample_id)
    return candidate if candidate.is_absolute() and candidate.is_file() else None
