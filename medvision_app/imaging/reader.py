"""The one entry point for opening an image: :func:`open_image`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from medvision_app.imaging.errors import ImageOpenError
from medvision_app.imaging.files import open_regular
from medvision_app.imaging.medical_image import MedicalImage
from medvision_app.imaging.sniff import HEAD_BYTES, sniff_bytes

SUPPORTED = "DICOM, PNG, JPEG, TIFF, BMP or PGM"


def open_image(path: Union[str, os.PathLike]) -> MedicalImage:
    """Open a DICOM or raster image and return a :class:`MedicalImage`.

    The format is recognised from the file's content, not its name. Only
    regular files are read (a FIFO or a device is refused before any read),
    and images larger than :mod:`medvision_app.imaging.limits` allows are
    refused before their pixels are allocated.

    Raises
    ------
    ImageOpenError
        For any failure (missing file, unknown format, damaged header, pixel
        data that cannot be decoded, too large); its message names the file and the reason.
    """
    path = Path(path)
    # One descriptor from sniffing to decoding: the file checked is the file read.
    with open_regular(path) as fh:
        try:
            head = fh.read(HEAD_BYTES)
            fh.seek(0)
        except OSError as exc:
            raise ImageOpenError(path, f"cannot read the file: {exc.strerror or exc}") from None
        if not head:
            raise ImageOpenError(path, "the file is empty")
        fmt = sniff_bytes(head, path.name)
        if fmt in ("DICOM", "DICOM-NOPREAMBLE"):
            from medvision_app.imaging.dicom_reader import read_dicom

            return read_dicom(path, force=fmt == "DICOM-NOPREAMBLE", fileobj=fh)
        if fmt is not None:
            from medvision_app.imaging.raster_reader import read_raster

            return read_raster(path, fmt, fileobj=fh)
    raise ImageOpenError(path, f"not a {SUPPORTED} file")
