"""Telling file formats apart from their first bytes, not their names."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

# Leading bytes of the raster formats we open, and the name we report.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"BM", "BMP"),
    (b"P2", "PGM"),
    (b"P5", "PGM"),
)

HEAD_BYTES = 132

# Never image files: skipped silently when scanning folders.
NON_IMAGE_SUFFIXES = frozenset(
    {".txt", ".csv", ".md", ".json", ".xml", ".html", ".pdf", ".py", ".toml", ".ini", ".log",
     ".zip", ".gz", ".tar", ".onnx", ".pt", ".npz", ".npy", ".icc", ".dump", ".sha256"}
)


# Companion files that travel with image folders; skipped silently too.
NON_IMAGE_NAMES = frozenset({"SHA256SUMS", "SHA1SUMS", "MD5SUMS", "README", "LICENSE", "LICENCE", "COPYING", "DICOMDIR"})


def is_candidate(name: str) -> bool:
    """Whether a file name may hold an image (hidden files and companions never do)."""
    if name.startswith(".") or name.upper() in NON_IMAGE_NAMES:
        return False
    dot = name.rfind(".")
    return dot <= 0 or name[dot:].lower() not in NON_IMAGE_SUFFIXES


def sniff_bytes(head: bytes, name: str = "") -> Optional[str]:
    """``"DICOM"``, a raster format name, or None for the leading bytes of a file."""
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "DICOM"
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    # DICOM without the 128-byte preamble (old ACR-NEMA style, or a stripped
    # file): a .dcm name, or a first element in group 0002/0008 as such files
    # begin; pydicom reads it with force=True.
    if len(head) >= 8 and (name.lower().endswith((".dcm", ".dicom")) or _starts_like_bare_dicom(head)):
        return "DICOM-NOPREAMBLE"
    return None


_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)


def _starts_like_bare_dicom(head: bytes) -> bool:
    if head[:2] in (b"\x02\x00", b"\x08\x00"):
        little = True
    elif head[:2] in (b"\x00\x02", b"\x00\x08"):
        little = False
    else:
        return False
    if head[4:6] in _VRS:  # explicit VR
        return True
    # Implicit VR (little endian only): a 4-byte length, short for a header's first element.
    return little and int.from_bytes(head[4:8], "little") < 1024


def sniff(path: Path) -> tuple[Optional[str], bytes]:
    """(format, leading bytes) of a regular file; raises ImageOpenError for anything else."""
    from medvision_app.imaging.files import open_regular

    with open_regular(path) as fh:
        head = fh.read(HEAD_BYTES)
    return sniff_bytes(head, path.name), head
