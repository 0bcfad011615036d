"""Opening training data files: regular files only, failures as DataError."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from medvision_app.data.errors import DataError
from medvision_app.imaging.errors import ImageOpenError
from medvision_app.imaging.files import open_regular


def open_data_file(path: Path) -> BinaryIO:
    """A binary file object of ``path``; a FIFO, device or folder is refused instead of blocking a read for ever."""
    try:
        return open_regular(path)
    except ImageOpenError as exc:
        raise DataError(f"{path}: {exc.reason}") from None


def open_data_text(path: Path, encoding: str = "utf-8-sig") -> io.TextIOWrapper:
    return io.TextIOWrapper(open_data_file(path), encoding=encoding, newline="")
