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
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    # DICOM without the 128-byte preamble (old ACR-NEMA style, or a stripped
    # file): trust the name, pydicom will read it with force=True.
    if len(head) >= 8 and name.lower().endswith((".dcm", ".dicom")):
        return "DICOM-NOPREAMBLE"
    return None


def sniff(path: Path) -> tuple[Optional[str], bytes]:
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    return sniff_bytes(head, path.name), head
