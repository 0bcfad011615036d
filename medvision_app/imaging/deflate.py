"""Reading Deflated Explicit VR Little Endian DICOM without trusting the deflate stream.

pydicom inflates a deflated file whole, in one call and without a limit:
778 KB of zeros become 800 MB before a single header element is read.
Here the stream is inflated piece by piece: first only as far as the
header, whose declared image size is checked against the limits; then the
rest, with a cap at what the header declares (plus room for trailing
elements), so a stream that inflates to more than it claims is refused
early instead of filling the memory.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset, FileDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset, read_preamble
from pydicom.tag import Tag

from medvision_app.imaging import dicom_header as hdr
from medvision_app.imaging.errors import ImageOpenError
from medvision_app.imaging.limits import check_declared_size

DEFLATED = "1.2.840.10008.1.2.1.99"
_CHUNK = 1 << 16
_HEADER_STEPS = (1 << 18, 1 << 21, 1 << 24, 1 << 26)  # header bytes tried: 256 KB ... 64 MB
_PIXEL_TAG = Tag(0x7FE0, 0x0010)
_SLACK = 1 << 20  # trailing elements after the pixel data (padding, signatures)


class _Inflater:
    """Inflates a raw deflate stream on demand, never past a cap."""

    def __init__(self, path: Path, fh: BinaryIO) -> None:
        self.path, self.fh = path, fh
        self.engine = zlib.decompressobj(-zlib.MAX_WBITS)
        self.out = bytearray()
        self.done = False

    def fill(self, size: int, *, cap: int) -> None:
        """Inflate until ``size`` bytes are out or the stream ends; refuse a stream that passes ``cap``."""
        self._check(cap)
        while len(self.out) < size and not self.done:
            pending = self.engine.unconsumed_tail or self.fh.read(_CHUNK)
            if not pending:
                self.out += self.engine.flush()
                self.done = True
                break
            try:
                self.out += self.engine.decompress(pending, _CHUNK * 16)
            except zlib.error as exc:
                raise ImageOpenError(self.path, f"the deflated data set is damaged: {exc}") from None
            if self.engine.eof:
                self.done = True
            self._check(cap)

    def _check(self, cap: int) -> None:
        if len(self.out) > cap:
            raise ImageOpenError(
                self.path,
                f"the deflated data inflate to more than {cap:,} bytes, more than the header declares "
                "(a decompression bomb or a damaged file)",
            )


def _parse(buffer: bytes, *, stop_before_pixels: bool) -> tuple[Dataset, bool]:
    """(data set, whether the pixel data element was reached) of an inflated buffer."""
    reached = []

    def stop_at_pixels(tag, _vr, _length) -> bool:
        if tag == _PIXEL_TAG:
            reached.append(True)
            return True
        return False

    fp = DicomBytesIO(buffer)
    fp.is_little_endian, fp.is_implicit_VR = True, False
    ds = read_dataset(fp, False, True, stop_when=stop_at_pixels if stop_before_pixels else None)
    return ds, bool(reached) or _PIXEL_TAG in ds


def _declared_pixel_bytes(path: Path, ds: Dataset) -> int:
    rows, columns = hdr.int_value(ds, "Rows"), hdr.int_value(ds, "Columns")
    if rows is None or columns is None:
        return 0
    frames = hdr.n_frames(ds)
    check_declared_size(path, rows, columns, frames)
    samples = max(1, hdr.int_value(ds, "SamplesPerPixel") or 1)
    bits = max(1, hdr.int_value(ds, "BitsAllocated") or 16)
    return rows * columns * frames * samples * ((bits + 7) // 8)


def read_deflated(path: Path, fh: BinaryIO, *, stop_before_pixels: bool = False) -> FileDataset:
    """A deflated DICOM file's data set, inflated under a cap (``fh`` positioned at its start).

    Raises
    ------
    ImageOpenError
        The image is larger than the limits, the stream inflates to more than
        the header declares, or the data set is damaged.
    """
    try:
        preamble = read_preamble(fh, False)
        meta = pydicom.filereader._read_file_meta_info(fh)
    except Exception as exc:  # pydicom raises many types on a damaged meta header
        raise ImageOpenError(path, f"the DICOM file meta header is damaged: {' '.join(str(exc).split())}") from None
    inflater = _Inflater(path, fh)
    header = None
    for step in _HEADER_STEPS:
        inflater.fill(step, cap=step + (_CHUNK << 4))
        try:
            header, at_pixels = _parse(bytes(inflater.out if inflater.done else inflater.out[:step]),
                                       stop_before_pixels=True)
        except Exception:  # the header runs past what is inflated so far, or is damaged
            header, at_pixels = None, False
        if inflater.done or at_pixels:
            break
    if header is None:
        raise ImageOpenError(path, "the deflated DICOM header is damaged and could not be parsed")
    expected = _declared_pixel_bytes(path, header)
    if stop_before_pixels:
        ds = header
    else:
        budget = expected + expected // 8 + _SLACK if expected else 64 << 20
        inflater.fill(1 << 62, cap=budget + len(inflater.out))
        try:
            ds, _ = _parse(bytes(inflater.out), stop_before_pixels=False)
        except Exception as exc:
            raise ImageOpenError(
                path, f"the DICOM header is damaged and could not be parsed: {' '.join(str(exc).split())}"
            ) from None
    dataset = FileDataset(str(path), ds, preamble=preamble, file_meta=meta, is_implicit_VR=False,
                          is_little_endian=True)
    return dataset
