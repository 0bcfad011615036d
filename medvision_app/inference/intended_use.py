"""Intended use: does an image belong to what a model was trained for?

A model card names the modalities (DICOM Modality codes, PS3.3 C.7.3.1.1.1:
``US``, ``MG``, ``DX``, ``CR``..., plus ``dermoscopy``, which has no code of
its own and is stored as ``XC`` (external-camera photography) in DICOM).
An image whose file states another modality is outside intended use; an
image that states none (a PNG) cannot be checked and is analysed, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

# Status of one image's analysis (``predict --json``, the AI panel, the results cache).
STATUS_OK = "ok"
STATUS_OUTSIDE = "outside_intended_use"
STATUS_FAILED = "failed"

# Codes that are the same kind of picture for a model (projection radiography
# is DX or CR depending on the detector; a dermoscopy file may say XC).
_EQUIVALENT = [{"DX", "CR"}, {"DERMOSCOPY", "XC"}]

# What a training source's file name tells about its images (lower-case substrings).
_KNOWN_SOURCES = [
    (("breastmnist", "busi"), ["US"], "breast", "breast ultrasound, B-mode, grayscale"),
    (("pneumoniamnist",), ["DX", "CR"], "chest", "paediatric chest X-ray, frontal"),
    (("dermamnist", "ham10000"), ["dermoscopy"], "skin", "dermoscopic image of a skin lesion, colour"),
    (("mias", "cbis", "ddsm", "mammo"), ["MG"], "breast", "mammogram, CC or MLO view"),
    (("mnist",), [], "", "handwritten digits (not a medical image)"),
]


def _normal(code: str) -> str:
    return code.strip().upper()


def same_modality(a: str, b: str) -> bool:
    a, b = _normal(a), _normal(b)
    return a == b or any(a in group and b in group for group in _EQUIVALENT)


@dataclass(frozen=True)
class IntendedUseCheck:
    """``outside`` is True when the image is of another modality; ``note`` says why, or what was not checked."""

    outside: bool
    note: str = ""


def check_intended_use(card, modality: Optional[str]) -> IntendedUseCheck:
    """Compare an image's modality (None: the file does not say) with ``card.modalities``."""
    wanted = [m for m in getattr(card, "modalities", []) or [] if m]
    if not wanted:
        return IntendedUseCheck(False, "the model card names no modality; not checked")
    if not modality:
        return IntendedUseCheck(False, f"the image states no modality; the model is for {', '.join(wanted)}")
    if any(same_modality(modality, m) for m in wanted):
        return IntendedUseCheck(False)
    return IntendedUseCheck(True, f"image modality {_normal(modality)}, the model was trained on "
                                  f"{', '.join(wanted)}")


def image_modality(image) -> Optional[str]:
    """The Modality a :class:`~medvision_app.imaging.MedicalImage` states, or None."""
    metadata = getattr(image, "metadata", None)
    value = getattr(metadata, "modality", None)
    return _normal(value) if value else None


def infer_intended_use(source_name: str, dicom_modality: Optional[str] = None,
                       body_part: Optional[str] = None) -> tuple[list[str], str, str]:
    """(modalities, body part, input description) guessed from the training data.

    A DICOM Modality read from the data wins; else the source's file name is
    matched against the public data sets MedVision knows. Empty when unknown.
    """
    if dicom_modality:
        return [_normal(dicom_modality)], (body_part or "").lower(), ""
    name = source_name.lower()
    for keys, modalities, part, description in _KNOWN_SOURCES:
        if any(k in name for k in keys):
            return list(modalities), part, description
    return [], "", ""
