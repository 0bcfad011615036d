"""A corpus of broken, hostile and special inputs, made from the real files in ../shared/data.

Nothing of it is committed: :func:`build` writes every input into a folder
it is given (a temporary one), from the real public files, so the corpus is
as real as the data and as hostile as an attacker or an unlucky user:
truncations, rewritten headers, lying sizes, decompression bombs, FIFOs,
symlinks to devices, unreadable files and folders, long and newline names,
NaN windows, flat images, random bytes, wrong extensions.

:func:`run_inprocess` and :func:`run_subprocess` put one input through one
``medvision`` command; :func:`judge` says what went wrong, if anything.
``tests/test_hostile_corpus.py`` and ``bench/bench_hostile.py`` use them.

    python tests/hostile_corpus.py OUT_DIR     # build the corpus and list it
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEDVISION_SHARED", ROOT.parent / "shared")) / "data"
MODEL = "breastmnist"
COMMANDS = ("info", "render", "predict")


@dataclass(frozen=True)
class Case:
    """One input of the corpus.

    ``degenerate``: the image carries no information (flat, or a window or
    rescale that makes it flat); ``predict`` must not answer. ``isolate``:
    run it only in a child process (it could hang, abort or eat memory if
    the guard were missing). ``unprivileged``: when we run as root, the
    child runs without root's right to read any file (CAP_DAC_OVERRIDE), so
    that unreadable files and folders are unreadable to it too.
    """

    name: str
    path: Path
    group: str
    degenerate: bool = False
    isolate: bool = False
    unprivileged: bool = False


# --- small builders -----------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png_bomb(path: Path, width: int, height: int, bit_depth: int = 8) -> Path:
    """A grayscale PNG of zeros, deflated row by row: a few hundred KB that claim gigabytes."""
    row = b"\x00" * (1 + width * bit_depth // 8)  # filter byte, then the samples
    packer = zlib.compressobj(9)
    parts = [packer.compress(row) for _ in range(height)]
    parts.append(packer.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(parts))
                     + _png_chunk(b"IEND", b""))
    return path


def write_deflated_dicom(path: Path, rows: int, columns: int, *, bits: int = 16, data_rows: Optional[int] = None) -> Path:
    """A Deflated Explicit VR Little Endian DICOM of zeros, streamed so it is never held inflated.

    ``data_rows`` (default ``rows``) is how many rows of pixel data really
    follow the header: fewer makes a file whose header lies about its size.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.Modality = "HOSTILE", "OT"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    head = DicomBytesIO()
    head.is_little_endian, head.is_implicit_VR = True, False
    write_file_meta_info(head, meta)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    row = b"\x00" * (columns * bits // 8)
    n = rows if data_rows is None else data_rows
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [packer.compress(body.getvalue() + b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", len(row) * n))]
    parts += [packer.compress(row) for _ in range(n)]
    parts.append(packer.flush())
    path.write_bytes(b"\x00" * 128 + b"DICM" + head.getvalue() + b"".join(parts))
    return path


def rewrite_dicom(src: Path, dst: Path, **tags) -> Path:
    """A copy of a DICOM file with header elements changed (None deletes one); pixel data kept as encoded."""
    import pydicom

    ds = pydicom.dcmread(src)
    for key, value in tags.items():
        if value is None:
            if key in ds:
                delattr(ds, key)
        else:
            setattr(ds, key, value)
    ds.save_as(dst)
    return dst


def write_without_preamble(src: Path, dst: Path) -> Path:
    """A DICOM data set written bare (no preamble, no file meta), as old ACR-NEMA style files are."""
    import pydicom

    ds = pydicom.dcmread(src)
    del ds.file_meta
    ds.preamble = None
    pydicom.dcmwrite(dst, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return dst


def truncated(src: Path, dst: Path, size: int) -> Path:
    dst.write_bytes(src.read_bytes()[:size])
    return dst


def patched(src: Path, dst: Path, offset: int, data: bytes) -> Path:
    raw = bytearray(src.read_bytes())
    raw[offset:offset + len(data)] = data
    dst.write_bytes(bytes(raw))
    return dst


def _jpeg_with_size(src: Path, dst: Path, height: int, width: int) -> Path:
    raw = src.read_bytes()
    i = 2
    while i < len(raw) - 9:
        marker, length = raw[i + 1], struct.unpack(">H", raw[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return patched(src, dst, i + 5, struct.pack(">HH", height, width))
        i += 2 + length
    raise ValueError(f"{src}: no SOF marker")


def _tiff_with_size(dst: Path, width: int, height: int) -> Path:
    """A baseline TIFF whose IFD declares ``width`` x ``height`` over a one-strip body of 64 bytes."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
               (273, 4, 8), (278, 4, height), (279, 4, 64)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, value in entries) + b"\x00\x00\x00\x00"
    dst.write_bytes(b"II*\x00" + struct.pack("<I", 8 + 64) + b"\x7f" * 64 + ifd)
    return dst


def _bmp_with_size(dst: Path, width: int, height: int) -> Path:
    pixels = b"\x80" * 64
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    dst.write_bytes(b"BM" + struct.pack("<IHHI", 14 + len(header) + len(pixels), 0, 0, 14 + len(header)) + header + pixels)
    return dst


def _flat_png(dst: Path, value: int, size: int = 256, mode: str = "L") -> Path:
    import numpy as np
    from PIL import Image

    dtype = np.uint16 if mode == "I;16" else np.uint8
    Image.fromarray(np.full((size, size), value, dtype=dtype)).save(dst)
    return dst


def _with_pixels(src: Path, dst: Path, fill: int) -> Path:
    """An uncompressed DICOM with every stored value set to ``fill``."""
    import numpy as np
    import pydicom

    ds = pydicom.dcmread(src)
    ds.PixelData = np.full(ds.pixel_array.shape, fill, ds.pixel_array.dtype).tobytes()
    ds.save_as(dst)
    return dst


def _random_bytes(dst: Path, n: int, seed: int, prefix: bytes = b"", at: int = 0) -> Path:
    data = bytearray(random.Random(seed).randbytes(n))
    data[at:at + len(prefix)] = prefix
    dst.write_bytes(bytes(data))
    return dst


def _fifo(dst: Path) -> Path:
    os.mkfifo(dst)
    return dst


def _socket_file(dst: Path) -> Path:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(os.fspath(dst))
    return dst


def _symlink(dst: Path, target: str) -> Path:
    os.symlink(target, dst)
    return dst


# --- the corpus ----------------------------------------------------------------------------------


def sources(data: Path = DATA) -> dict[str, Path]:
    """The real files the corpus is made from."""
    from pydicom.data import get_testdata_file

    codecs = data / "dicom-codecs"
    return {
        "ct": Path(get_testdata_file("CT_small.dcm", download=False)),
        "mr": Path(get_testdata_file("MR_small.dcm", download=False)),
        "cbis": data / "cbis-ddsm-P_00173" / "sfm-benign-0_1-130.dcm",
        "deflated": codecs / "orthanc-tests" / "TS_1.2.840.10008.1.2.1.99.dcm",
        "rle": codecs / "pylibjpeg-data" / "RLELossless__emri_small_RLE.dcm",
        "j2k": codecs / "pylibjpeg-data" / "JPEG2000Lossless__JPEG2KLossless_1s_1f_u_16_16.dcm",
        "jls": codecs / "pylibjpeg-data" / "JPEGLSLossless__emri_small_jpeg_ls_lossless.dcm",
        "jpeg_dcm": codecs / "orthanc-tests" / "TS_1.2.840.10008.1.2.4.50.dcm",
        "jply": codecs / "pylibjpeg-data" / "JPEGExtended__RG2_JPLY.dcm",
        "mg_header": data / "mg-headers-openrem" / "MG-Im-GE_Seno_1_ForProcessing.dcm",
        "busi": data / "busi-256" / "benign" / "benign (1).png",
        "mias": data / "mini-mias-abnormal" / "benign" / "mdb001_benign.png",
        "ham": data / "ham10000-200x150" / "images" / "ISIC_0024306.jpg",
        "derma": data / "dermamnist-jpeg28" / "images" / "DermaMNIST_test_00000.jpg",
    }


def build(out: Path, data: Path = DATA, *, bombs: bool = True) -> list[Case]:
    """Write the corpus into ``out`` (an empty folder) and return its cases.

    ``bombs=False`` leaves out the inputs that take seconds to build (the
    decompression bombs), for quick runs.
    """
    import warnings

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    src = sources(data)
    with warnings.catch_warnings():
        # pydicom warns on every NaN it is asked to write: writing them is the point.
        warnings.simplefilter("ignore")
        return _build(out, src, bombs)


def _build(out: Path, src: dict[str, Path], bombs: bool) -> list[Case]:
    cases: list[Case] = []

    def add(name: str, group: str, make: Callable[[Path], Path], **kw) -> None:
        cases.append(Case(name, make(out / name) if make else out / name, group, **kw))

    # Untouched files: the guards must not refuse what is valid.
    for key in ("ct", "cbis", "deflated", "rle", "busi", "ham"):
        add(f"valid-{key}{src[key].suffix}", "valid", lambda p, k=key: _copy(src[k], p))
    add("valid-no-preamble.dcm", "valid", lambda p: write_without_preamble(src["ct"], p))
    add("valid-no-preamble-mr", "valid", lambda p: write_without_preamble(src["mr"], p))
    add("valid-png-named.dcm", "wrong-extension", lambda p: _copy(src["busi"], p))
    add("valid-dicom-named.png", "wrong-extension", lambda p: _copy(src["ct"], p))
    add("valid-jpeg-named.tif", "wrong-extension", lambda p: _copy(src["ham"], p))

    # Truncations of every kind of file, at the places a copy or a download stops.
    cuts = {
        "ct": (0, 1, 100, 131, 132, 400, 1500, -1),
        "cbis": (2000, 1 << 20, -1),
        "deflated": (300, 0.5, -10),
        "rle": (0.5, -1),
        "j2k": (0.5,),
        "jls": (0.5,),
        "jpeg_dcm": (0.7,),
        "busi": (8, 33, 0.5, -12),
        "mias": (0.5,),
        "ham": (3, 0.5, -2),
    }
    for key, where in cuts.items():
        size = src[key].stat().st_size
        for cut in where:
            n = int(size * cut) if isinstance(cut, float) else (size + cut if cut < 0 else cut)
            add(f"truncated-{key}-{n}{src[key].suffix}", "truncated", lambda p, k=key, n=n: truncated(src[k], p, n))

    # Headers that lie about the pixel data that follows.
    lies = {
        "rows-doubled": {"Rows": 256},
        "one-column": {"Columns": 1},
        "zero-rows": {"Rows": 0},
        "frames-1000": {"NumberOfFrames": 1000},
        "frames-zero": {"NumberOfFrames": 0},
        "bits-32": {"BitsAllocated": 32},
        "bits-7": {"BitsAllocated": 7},
        "bits-stored-20": {"BitsStored": 20},
        "samples-3": {"SamplesPerPixel": 3},
        "photometric-bogus": {"PhotometricInterpretation": "NONSENSE"},
        "pixel-representation-5": {"PixelRepresentation": 5},
        "no-pixel-data": {"PixelData": None},
        "no-rows": {"Rows": None},
    }
    for label, tags in lies.items():
        add(f"header-ct-{label}.dcm", "header", lambda p, t=tags: rewrite_dicom(src["ct"], p, **t))
    add("header-rle-frames-100000.dcm", "header", lambda p: rewrite_dicom(src["rle"], p, NumberOfFrames=100000))
    add("header-jpeg-frames-1000.dcm", "header", lambda p: rewrite_dicom(src["jpeg_dcm"], p, NumberOfFrames=1000))
    add("header-rle-rows-4000.dcm", "header", lambda p: rewrite_dicom(src["rle"], p, Rows=4000, Columns=4000))
    add("header-cbis-rows-8000.dcm", "header", lambda p: rewrite_dicom(src["cbis"], p, Rows=8000), isolate=True)
    add("header-j2k-rows-9000.dcm", "header", lambda p: rewrite_dicom(src["j2k"], p, Rows=9000, Columns=9000),
        isolate=True)
    add("header-jls-65535.dcm", "bomb", lambda p: rewrite_dicom(src["jls"], p, Rows=65535, Columns=65535),
        isolate=True)
    add("header-jpeg-dcm-30000.dcm", "bomb",
        lambda p: rewrite_dicom(src["jpeg_dcm"], p, Rows=30000, Columns=30000), isolate=True)
    add("header-syntax-lie.dcm", "header", lambda p: _syntax_lie(src["ct"], p))
    add("header-mg-no-pixels.dcm", "header", lambda p: _copy(src["mg_header"], p))
    add("header-jply-undecodable.dcm", "header", lambda p: _copy(src["jply"], p))
    add("header-deflated-lying-20000.dcm", "bomb",
        lambda p: write_deflated_dicom(p, 20000, 20000, data_rows=16), isolate=True)

    # Windows and rescales that would make any image one flat value.
    add("window-nan.dcm", "window", lambda p: rewrite_dicom(src["ct"], p, WindowCenter="NaN", WindowWidth="NaN"))
    add("window-inf.dcm", "window", lambda p: rewrite_dicom(src["ct"], p, WindowCenter="inf", WindowWidth="1e400"))
    add("window-nan-only-width.dcm", "window", lambda p: rewrite_dicom(src["ct"], p, WindowCenter=40, WindowWidth="nan"))
    add("window-zero-width.dcm", "window", lambda p: rewrite_dicom(src["ct"], p, WindowCenter=40, WindowWidth=0))
    add("window-far-above.dcm", "degenerate",
        lambda p: rewrite_dicom(src["ct"], p, WindowCenter=1e9, WindowWidth=10), degenerate=True)
    add("rescale-slope-0.dcm", "degenerate", lambda p: rewrite_dicom(src["ct"], p, RescaleSlope=0), degenerate=True)
    add("rescale-slope-nan.dcm", "degenerate", lambda p: rewrite_dicom(src["ct"], p, RescaleSlope="NaN"),
        degenerate=True)
    add("rescale-intercept-inf.dcm", "degenerate",
        lambda p: rewrite_dicom(src["ct"], p, RescaleSlope=1, RescaleIntercept="Infinity"), degenerate=True)
    add("rescale-intercept-huge.dcm", "degenerate",
        lambda p: rewrite_dicom(src["ct"], p, RescaleSlope=1, RescaleIntercept="1e39"), degenerate=True)
    add("flat-zero.png", "degenerate", lambda p: _flat_png(p, 0), degenerate=True)
    add("flat-white.png", "degenerate", lambda p: _flat_png(p, 255), degenerate=True)
    add("flat-16bit.png", "degenerate", lambda p: _flat_png(p, 4000, mode="I;16"), degenerate=True)
    add("flat-ct.dcm", "degenerate", lambda p: _with_pixels(src["ct"], p, 1000), degenerate=True)
    add("one-pixel.png", "degenerate", lambda p: _flat_png(p, 128, size=1), degenerate=True)

    # Random bytes, and random bytes behind a real format's magic number.
    add("random.dcm", "random", lambda p: _random_bytes(p, 4096, 1))
    add("random.png", "random", lambda p: _random_bytes(p, 4096, 2))
    add("random-noext", "random", lambda p: _random_bytes(p, 4096, 3))
    add("random-dicm.dcm", "random", lambda p: _random_bytes(p, 4096, 4, b"DICM", 128))
    add("random-png-magic.png", "random", lambda p: _random_bytes(p, 4096, 5, b"\x89PNG\r\n\x1a\n"))
    add("random-jpeg-magic.jpg", "random", lambda p: _random_bytes(p, 4096, 6, b"\xff\xd8\xff"))
    add("random-tiff-magic.tif", "random", lambda p: _random_bytes(p, 4096, 7, b"II*\x00"))
    add("random-bmp-magic.bmp", "random", lambda p: _random_bytes(p, 4096, 8, b"BM"))
    add("random-pgm-magic.pgm", "random", lambda p: _random_bytes(p, 4096, 9, b"P5"))
    add("text.dcm", "random", lambda p: _text(p, "This is not an image.\n" * 20))
    add("html.jpg", "random", lambda p: _text(p, "<!doctype html><html><body>404 Not Found</body></html>"))
    add("gzipped.dcm", "random", lambda p: _gzipped(src["ct"], p))
    add("zero-bytes.dcm", "random", lambda p: _text(p, ""))
    add("zero-bytes.png", "random", lambda p: _text(p, ""))

    # Decompression bombs: a few hundred KB that claim gigabytes.
    if bombs:
        add("bomb-rle-65535.dcm", "bomb", lambda p: rewrite_dicom(src["cbis"], p, Rows=65535, Columns=65535),
            isolate=True)
        add("bomb-deflated-20000.dcm", "bomb", lambda p: write_deflated_dicom(p, 20000, 20000), isolate=True)
        add("bomb-png16-13300.png", "bomb", lambda p: write_png_bomb(p, 13300, 13300, 16), isolate=True)
        add("bomb-png-30000.png", "bomb", lambda p: write_png_bomb(p, 30000, 30000, 8), isolate=True)
    add("bomb-pgm-huge.pgm", "bomb", lambda p: _text(p, "P5\n100000 100000\n255\n" + "\x00" * 64), isolate=True)
    add("bomb-jpeg-65500.jpg", "bomb", lambda p: _jpeg_with_size(src["ham"], p, 65500, 65500), isolate=True)
    add("bomb-tiff-60000.tif", "bomb", lambda p: _tiff_with_size(p, 60000, 60000), isolate=True)
    add("bomb-bmp-50000.bmp", "bomb", lambda p: _bmp_with_size(p, 50000, 50000), isolate=True)

    # Special files: reading them blocks for ever or never ends.
    add("fifo.dcm", "special", _fifo, isolate=True)
    add("fifo.png", "special", _fifo, isolate=True)
    add("fifo-noext", "special", _fifo, isolate=True)
    add("dev-zero.dcm", "special", lambda p: _symlink(p, "/dev/zero"), isolate=True)
    add("dev-null.png", "special", lambda p: _symlink(p, "/dev/null"), isolate=True)
    add("dev-urandom", "special", lambda p: _symlink(p, "/dev/urandom"), isolate=True)
    add("socket.dcm", "special", _socket_file, isolate=True)
    add("symlink-loop.dcm", "special", lambda p: _symlink(p, p.name))
    add("symlink-dangling.png", "special", lambda p: _symlink(p, "/nonexistent/target.png"))
    add("folder-with-fifo", "special", lambda p: _folder_with(p, src, special=True), isolate=True)
    add("folder-mixed", "folder", lambda p: _folder_with(p, src, special=False))
    add("folder-empty", "folder", lambda p: _mkdir(p))
    add("folder-named.dcm", "folder", lambda p: _mkdir(p))

    # Names: too long, with a newline, not UTF-8.
    add("n" * 300 + ".dcm", "name", None)
    add("nested-" + "d" * 250 + "/x.png", "name", None)
    add("new\nline.dcm", "name", lambda p: _random_bytes(p, 512, 10))
    add("new\nline-valid.png", "name", lambda p: _copy(src["busi"], p))
    add("tab\tand\x1bescape.dcm", "name", lambda p: _random_bytes(p, 512, 11))
    add(os.fsdecode(b"latin1-caf\xe9.png"), "name", lambda p: _copy(src["busi"], p))
    add("missing.dcm", "name", None)

    # Permissions: unreadable files and folders.
    add("no-read.dcm", "permission", lambda p: _chmod(_copy(src["ct"], p), 0o000), unprivileged=True, isolate=True)
    add("locked-folder", "permission", lambda p: _chmod(_folder_with(p, src, special=False), 0o000),
        unprivileged=True, isolate=True)
    add("locked-folder/ct.dcm", "permission", None, unprivileged=True, isolate=True)
    add("folder-with-locked-sub", "permission", lambda p: _folder_with_locked(p, src), unprivileged=True,
        isolate=True)
    return cases


def _copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst


def _text(dst: Path, text: str) -> Path:
    dst.write_bytes(text.encode("latin-1"))
    return dst


def _gzipped(src: Path, dst: Path) -> Path:
    import gzip

    dst.write_bytes(gzip.compress(src.read_bytes()))
    return dst


def _syntax_lie(src: Path, dst: Path) -> Path:
    """An uncompressed file whose meta header says RLE Lossless (a UID of the same length, patched in place)."""
    raw = src.read_bytes()
    explicit = b"1.2.840.10008.1.2.1\x00"
    if explicit not in raw[:1024]:
        raise ValueError(f"{src}: not Explicit VR Little Endian")
    dst.write_bytes(raw.replace(explicit, b"1.2.840.10008.1.2.5\x00", 1))
    return dst


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _chmod(path: Path, mode: int) -> Path:
    path.chmod(mode)
    return path


def _folder_with(path: Path, src: dict[str, Path], *, special: bool) -> Path:
    path.mkdir()
    _copy(src["ct"], path / "ct.dcm")
    _copy(src["busi"], path / "busi.png")
    _random_bytes(path / "broken.dcm", 1024, 12)
    if special:
        os.mkfifo(path / "fifo.dcm")
        os.symlink("/dev/zero", path / "zero.dcm")
    return path


def _folder_with_locked(path: Path, src: dict[str, Path]) -> Path:
    _folder_with(path, src, special=False)
    locked = path / "sub"
    locked.mkdir()
    _copy(src["ct"], locked / "hidden.dcm")
    locked.chmod(0o000)
    return path


# --- running and judging -------------------------------------------------------------------------


@dataclass
class Outcome:
    """One command on one input."""

    case: str
    command: str
    returncode: Optional[int]  # None: it did not end within the timeout
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: Optional[float] = None  # child processes only
    crash: str = ""  # an in-process exception that escaped main()
    problems: list[str] = field(default_factory=list)


def argv_for(command: str, case: Case, out_dir: Path) -> list[str]:
    path = os.fspath(case.path)
    if command == "info":
        return ["info", path]
    if command == "render":
        return ["render", path, os.fspath(out_dir / f"render-{abs(hash(case.name))}.png")]
    return ["predict", MODEL, path, "--json"]


def run_inprocess(case: Case, command: str, out_dir: Path) -> Outcome:
    """``main(argv)`` in this process, its output captured; an escaped exception is a crash."""
    from medvision_app.cli.main import main

    stdout, stderr, crash = io.StringIO(), io.StringIO(), ""
    start = time.perf_counter()
    code: Optional[int] = None
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(argv_for(command, case, out_dir))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: B036 - anything escaping main() is what we look for
            crash = traceback.format_exc()
            code = 1
    return Outcome(case.name, command, code, stdout.getvalue(), stderr.getvalue(), time.perf_counter() - start,
                   crash=crash)


def child_env(home: Optional[Path] = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("MEDVISION_DEVICE", "cpu")
    if home is not None:
        env["MEDVISION_HOME"] = os.fspath(home)
    env["PYTHONIOENCODING"] = env.get("PYTHONIOENCODING", "")  # the default encoding, as a user has
    return env


def run_subprocess(case: Case, command: str, out_dir: Path, *, timeout: float = 60.0,
                   memory_limit_mb: Optional[int] = None, python: str = sys.executable) -> Outcome:
    """The command as ``python -m medvision_app`` in a child, with its peak memory (from wait4's rusage).

    ``memory_limit_mb`` caps the child's data segment, so that a missing
    guard shows as a failure instead of taking the machine's memory.
    """
    peak_file = out_dir / ".peak"
    peak_file.unlink(missing_ok=True)
    argv = [python, "-c", _PEAK_WRAPPER, os.fspath(peak_file), *argv_for(command, case, out_dir)]
    if case.unprivileged and os.geteuid() == 0:
        # Root without the capabilities that let it read and list anything.
        argv = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *argv]

    def preexec() -> None:
        if memory_limit_mb is not None:
            limit = memory_limit_mb << 20
            resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))

    start = time.perf_counter()
    with open(out_dir / ".stdout", "w+b") as out, open(out_dir / ".stderr", "w+b") as err:
        child = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=out_dir,
                                 env=child_env(_home(out_dir)), preexec_fn=preexec, start_new_session=True)
        status, usage = _wait(child, timeout)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    code = None if status is None else (-os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))
    return Outcome(case.name, command, code, stdout, stderr, seconds, max_rss_mb=_peak_mb(peak_file, usage))


# The child's own peak (VmHWM), written as it exits. wait4's ru_maxrss is no
# good here: a forked child counts its parent's resident pages until it execs,
# and the kernel keeps that high-water mark across the exec, so a grown pytest
# process made every refusal look like 600 MB.
_PEAK_WRAPPER = """
import runpy, sys
peak_file = sys.argv[1]
sys.argv = ["medvision", *sys.argv[2:]]
try:
    runpy.run_module("medvision_app", run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status, open(peak_file, "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")))
"""


def _peak_mb(peak_file: Path, usage) -> float:
    try:
        return int(peak_file.read_text().split()[1]) / 1024  # "VmHWM:   123456 kB"
    except (OSError, IndexError, ValueError):
        return usage.ru_maxrss / 1024  # killed before it could say: an upper bound


def _home(out_dir: Path) -> Path:
    home = out_dir / ".medvision-home"
    home.mkdir(exist_ok=True)
    return home


def _wait(child: subprocess.Popen, timeout: float):
    """(wait status or None when it timed out, rusage of that child alone)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = 0  # reaped here: Popen must not wait for it again
            return status, usage
        if time.monotonic() > deadline:
            os.killpg(child.pid, signal.SIGKILL)
            _pid, _status, usage = os.wait4(child.pid, 0)
            child.returncode = -9
            return None, usage
        time.sleep(0.01)


def judge(case: Case, outcome: Outcome) -> list[str]:
    """What is wrong with an outcome: a traceback, a hang, an abort, a bad exit, an answer on a flat image."""
    problems = []
    if outcome.returncode is None:
        problems.append("hang")
    elif outcome.returncode < 0:
        problems.append(f"abort (signal {-outcome.returncode})")
    elif outcome.returncode not in (0, 2):
        problems.append(f"exit status {outcome.returncode}")
    if outcome.crash or "Traceback (most recent call last)" in outcome.stderr:
        problems.append("traceback")
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("error: ")]
    if outcome.returncode == 2 and not errors:
        problems.append("exit 2 without an error: line")
    for line in outcome.stderr.splitlines():
        if not line.startswith(("error: ", "warning: ", "WARNING ")):
            problems.append(f"stray stderr line {line[:80]!r}")
            break
    if outcome.command == "predict" and case.degenerate and _answers(outcome.stdout):
        problems.append("confident answer on a degenerate image")
    outcome.problems = problems
    return problems


def _answers(stdout: str) -> bool:
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("status", "ok") == "ok" and record.get("predicted"):
            return True
    return False


def sweep(cases: list[Case], work: Path, *, isolated_only_in_children: bool = True, timeout: float = 60.0,
          memory_limit_mb: Optional[int] = 3000, include_isolated: bool = True) -> list[Outcome]:
    """Every case through every command, judged.

    ``isolated_only_in_children=True`` runs only the isolated cases as child
    processes and the rest in this process (fast); False runs everything as
    children (the complete sweep, with each call's peak memory).
    ``include_isolated=False`` leaves the isolated cases out.
    """
    work.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for case in cases:
        if case.isolate and not include_isolated:
            continue
        for command in COMMANDS:
            if case.isolate or not isolated_only_in_children:
                outcome = run_subprocess(case, command, work, timeout=timeout, memory_limit_mb=memory_limit_mb)
            else:
                outcome = run_inprocess(case, command, work)
            judge(case, outcome)
            outcomes.append(outcome)
    return outcomes


def summary(cases: list[Case], outcomes: list[Outcome]) -> dict:
    """The figures of a sweep: counts of each kind of failure, peak memory, the slowest refusal."""
    def count(word: str) -> int:
        return sum(1 for o in outcomes if any(p.startswith(word) for p in o.problems))

    refused = [o for o in outcomes if o.returncode == 2]
    measured = [o for o in refused if o.max_rss_mb is not None]
    slowest = max(refused, key=lambda o: o.seconds, default=None)
    return {
        "inputs": len(cases),
        "calls": len(outcomes),
        "refused_calls": len(refused),
        "tracebacks": count("traceback"),
        "hangs": count("hang"),
        "aborts": count("abort"),
        "confident_answers_on_degenerate_images": count("confident answer"),
        "other_problems": [f"{o.command} {o.case!r}: {p}" for o in outcomes for p in o.problems
                           if not p.startswith(("traceback", "hang", "abort", "confident answer"))],
        "peak_memory_of_a_refused_call_mb": round(max((o.max_rss_mb for o in measured), default=0.0), 1),
        "slowest_refusal": None if slowest is None else {
            "case": slowest.case, "command": slowest.command, "seconds": round(slowest.seconds, 3),
            "error": (slowest.stderr.strip().splitlines() or [""])[-1][:300],
        },
    }


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
    built = build(target)
    for c in built:
        print(f"{c.group:<16} {'isolated ' if c.isolate else ''}{'degenerate ' if c.degenerate else ''}"
              f"{c.name!r}")
    print(f"{len(built)} inputs in {target}")
