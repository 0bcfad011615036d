"""The facts a case report prints, gathered without Qt or torch: each image opened, predicted
with its heatmap through the verified ONNX model, reduced for the page, and de-identified on request."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from medvision_app import __version__
from medvision_app.errors import UserError
from medvision_app.imaging.metadata import ImageMetadata

SUCCEEDED, FAILED, OUTSIDE = "succeeded", "failed", "outside intended use"


@dataclass
class CaseImage:
    """One image of the case and what the model said about it.

    ``picture`` and ``overlay`` are uint8 RGB (h, w, 3) reduced to at most
    ``max_side`` pixels; ``label`` is how the report names the image (the file
    name, or "Image N" when de-identified).
    """

    label: str
    status: str
    reason: str = ""
    probabilities: dict[str, float] = field(default_factory=dict)
    predicted: Optional[str] = None
    heatmap_kind: Optional[str] = None
    picture: Optional[np.ndarray] = None
    overlay: Optional[np.ndarray] = None
    metadata: ImageMetadata = field(default_factory=ImageMetadata)
    burned_in: Optional[str] = None
    masked: bool = False


@dataclass
class CaseFacts:
    images: list[CaseImage]
    card: object
    model_path: Path
    model_identity: str
    provenance: str
    deidentified: bool
    patient_rows: list[tuple[str, str]]
    method: str = ""
    threshold: Optional[float] = None
    generated: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    software: str = f"MedVision {__version__}"


def _reduce(display: np.ndarray, max_side: int) -> np.ndarray:
    step = max(1, int(np.ceil(max(display.shape[:2]) / max_side)))
    small = display[::step, ::step]
    if small.ndim == 2:
        small = np.repeat(small[..., None], 3, axis=2)
    return np.ascontiguousarray(small)


def _header(path: Path):
    """The DICOM header (no pixels) of a DICOM file, else None."""
    from medvision_app.imaging.dicom_reader import read_dataset

    try:
        # Guarded: regular files only, a deflated header inflated under a cap.
        return read_dataset(Path(path), stop_before_pixels=True)
    except Exception:  # not DICOM: a raster image has no header to de-identify
        return None


def _text(value: Optional[str]) -> str:
    return value if value else "not stated"


def _date(value: Optional[str]) -> str:
    if value and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return _text(value)


def patient_rows(metadata: ImageMetadata, header) -> list[tuple[str, str]]:
    """The identified patient and study block."""
    referring = getattr(header, "ReferringPhysicianName", None) if header is not None else None
    return [
        ("Patient name", _text(metadata.patient_name)),
        ("Patient ID", _text(metadata.patient_id)),
        ("Birth date", _date(metadata.birth_date)),
        ("Sex / age", f"{_text(metadata.sex)} / {_text(metadata.age)}"),
        ("Study date", _date(metadata.study_date)),
        ("Accession number", _text(metadata.accession_number)),
        ("Institution", _text(metadata.institution)),
        ("Referring physician", _text(str(referring).replace("^", " ") if referring else None)),
        ("Study", _text(metadata.study_description)),
    ]


def provenance_of(model_path: Path) -> str:
    """"shipped", "signed" or "unverified", as the registry would assess the file, with its detail."""
    try:
        from medvision_app.inference.model import verify_model
        from medvision_app.inference.provenance import assess

        verdict = assess(verify_model(model_path))
    except Exception:  # the model itself was verified on loading; an unreadable provenance is "unverified"
        return "unverified"
    return f"{verdict.state} ({verdict.detail})" if verdict.detail else verdict.state


def _intended_use(card, metadata: ImageMetadata) -> tuple[bool, str]:
    try:
        from medvision_app.inference.intended_use import check_intended_use
    except ImportError:
        return False, ""
    check = check_intended_use(card, metadata.modality)
    return check.outside, check.note


def _decide(probs: dict[str, float], classes: list[str], threshold: Optional[float]) -> str:
    # the card's reading (medvision_app.inference.predict.decide): the first class at P >= threshold
    if threshold is not None and len(classes) == 2:
        return classes[0] if probs[classes[0]] >= threshold else classes[1]
    return max(classes, key=lambda c: probs[c])


def _metadata_vector(card, image):
    if not getattr(card, "metadata_features", 0):
        return None
    from medvision_app.inference.patient import encode_patient, facts_from_image

    return encode_patient(card, facts_from_image(image))[0]


def analyse_image(path: Path, loaded, *, label: str, deidentify: bool, mask: bool, max_side: int,
                  threshold: Optional[float]) -> CaseImage:
    """Open, predict and reduce one image. Raises the imaging/inference UserError when it cannot."""
    from medvision_app.explanation.overlay import overlay_heatmap
    from medvision_app.imaging import open_image
    from medvision_app.inference.predict import predict
    from medvision_app.reports.deid import burned_in_warning, deidentified_metadata, mask_border, shown_metadata

    image = open_image(path)
    header = _header(path) if image.format == "DICOM" else None
    if deidentify:
        metadata = deidentified_metadata(header) if header is not None else shown_metadata(image.metadata)
    else:
        metadata = image.metadata
    card = loaded.card
    burned = burned_in_warning(header, image.metadata)
    if burned is None and not image.metadata.modality and "US" in [m.upper() for m in getattr(card, "modalities", [])]:
        burned = "the image states no modality and the model is for ultrasound, which commonly carries burned-in text"
    shown = image.display(0)  # once: display_float(0) is this over 255, and a mammogram is 12 megapixels
    full = shown.astype(np.float32) / np.float32(255.0)
    prediction = predict(full, loaded, heatmap=True, metadata=_metadata_vector(card, image))
    picture = _reduce(shown, max_side)
    heat = None
    if hasattr(prediction, "heatmap_on") and getattr(prediction, "model_space", None) is not None:
        heat = prediction.heatmap_on(picture.shape[:2])
    elif getattr(prediction, "heatmap", None) is not None:
        step = max(1, int(np.ceil(max(full.shape[:2]) / max_side)))
        heat = prediction.heatmap[::step, ::step][: picture.shape[0], : picture.shape[1]]
    masked = bool(mask and deidentify and burned)
    if masked:
        picture = mask_border(picture)
    overlay = overlay_heatmap(picture, heat, opacity=0.45) if heat is not None else None
    outside, note = _intended_use(card, image.metadata)
    return CaseImage(
        label=label, status=OUTSIDE if outside else SUCCEEDED, reason=note,
        probabilities=dict(prediction.probabilities),
        predicted=None if outside else _decide(prediction.probabilities, list(card.classes), threshold),
        heatmap_kind=prediction.heatmap_kind, picture=picture, overlay=overlay, metadata=metadata,
        burned_in=burned, masked=masked,
    )


def _view(metadata: ImageMetadata) -> str:
    parts = [metadata.modality, metadata.laterality, metadata.view_position]
    return " ".join(p for p in parts if p)


def analyse_case(
    paths: Sequence[str | Path],
    model: str | Path,
    *,
    deidentify: bool = False,
    mask_burned_in: bool = False,
    threshold: Optional[float] = None,
    keep_going: bool = False,
    max_side: int = 640,
) -> CaseFacts:
    """Predict every image of a case with ``model`` (a path or registry name).

    ``threshold`` overrides the card's operating threshold (first class's
    probability). With ``keep_going`` an image that cannot be opened or
    predicted is reported as failed; without it its UserError propagates
    (the CLI's one-line error).
    """
    from medvision_app.inference import load_model
    from medvision_app.inference.registry import ModelRegistry
    from medvision_app.reports.deid import method_text

    model_path = ModelRegistry().resolve(model)
    loaded = load_model(model_path)
    card = loaded.card
    threshold = threshold if threshold is not None else getattr(card, "threshold", None)
    images: list[CaseImage] = []
    first_header = None
    for number, raw in enumerate(paths, 1):
        path = Path(raw)
        label = f"Image {number}" if deidentify else path.name
        try:
            item = analyse_image(path, loaded, label=label, deidentify=deidentify, mask=mask_burned_in,
                                 max_side=max_side, threshold=threshold)
        except UserError as exc:
            if not keep_going:
                raise
            reason = "the image could not be opened or analysed" if deidentify else str(exc)
            images.append(CaseImage(label=label, status=FAILED, reason=reason))
            continue
        view = _view(item.metadata)
        item.label = f"{label} ({view})" if view else label
        images.append(item)
        if first_header is None and not deidentify:
            first_header = _header(path)  # the patient and study block: every image of a case shares it
    rows: list[tuple[str, str]]
    if deidentify:
        rows = [("Patient", "Patient identity removed"), ("Method", method_text())]
    else:
        from medvision_app.imaging.dicom_header import metadata_from_dataset

        meta = metadata_from_dataset(first_header) if first_header is not None else ImageMetadata()
        rows = patient_rows(meta, first_header)
    return CaseFacts(images, card, model_path, loaded.identity, provenance_of(model_path), deidentify, rows,
                     method_text() if deidentify else "", threshold)
