"""The one entry point for opening an image: :func:`open_image`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from medvision_app.imaging.errors import ImageOpenError
from medvision_app.imaging.medical_image import MedicalImage
from medvision_app.imaging.sniff import sniff

SUPPORTED = "DICOM, PNG, JPEG, TIFF, BMP or PGM"


def open_image(path: Union[str, os.PathLike]) -> MedicalImage:
    """Open a DICOM or raster image and return a :class:`MedicalImage`.

    The format is recognised from the file's content, not its name.

    Raises
    ------
    ImageOpenError
        For any failure (missing file, unknown format, damaged header, pixel
        data that cannot be decoded); its message names the file and the reason.
    """
    path = Path(path)
    if not path.exists():
        raise ImageOpenError(path, "no such file")
    if path.is_dir():
        raise ImageOpenError(path, "is a folder, not an image file (open it as a folder to scan it)")
    try:
        fmt, head = sniff(path)
    except OSError as exc:
        raise ImageOpenError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    if not head:
        raise ImageOpenError(path, "the file is empty")
    if fmt in ("DICOM", "DICOM-NOPREAMBLE"):
        from medvision_app.imaging.dicom_reader import read_dicom

        return read_dicom(path, force=fmt == "DICOM-NOPREAMBLE")
    if fmt is not None:
        from medvision_app.imaging.raster_reader import read_raster

        return read_raster(path, fmt)
    raise ImageOpenError(path, f"not a {SUPPORTED} file")
