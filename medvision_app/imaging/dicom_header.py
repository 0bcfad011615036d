"""Reading what a DICOM header says: metadata, modality LUT, VOI presets, geometry.

Shared by the image reader and the study index, so a header is interpreted the
same way whether or not its pixels are decoded.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import numpy as np
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from medvision_app.imaging.display import DisplayPreset, ModalityLut
from medvision_app.imaging.metadata import ImageMetadata

log = logging.getLogger(__name__)

# Mammography views as written in ViewPosition, PatientOrientation abuse, series
# descriptions and the ViewCodeSequence code meanings (DICOM CID 4014).
_VIEW_CODES = ("XCCL", "XCCM", "MLO", "LMO", "ML", "LM", "CC", "FB", "SIO", "AP", "PA", "LL", "RL")
_VIEW_MEANINGS = {
    "cranio-caudal": "CC",
    "medio-lateral oblique": "MLO",
    "medio-lateral": "ML",
    "latero-medial": "LM",
    "latero-medial oblique": "LMO",
    "exaggerated cranio-caudal": "XCCL",
    "cranio-caudal exaggerated laterally": "XCCL",
    "cranio-caudal exaggerated medially": "XCCM",
}


_TAGS: dict[str, int] = {}


def _tag(keyword: str) -> int:
    tag = _TAGS.get(keyword)
    if tag is None:
        tag = _TAGS[keyword] = tag_for_keyword(keyword)
    return tag


def _element_value(ds: Dataset, keyword: str) -> Any:
    """The element's value, decoded cheaply where pydicom's conversion is not needed.

    Indexing a folder reads ~25 tags from each header; pydicom's generic
    conversion would cost more than parsing the header itself. Plain-ASCII text
    values are decoded directly; anything else (other character sets, binary
    VRs, sequences) goes through pydicom.
    """
    elem = ds.get_item(_tag(keyword))
    if elem is None:
        return None
    value = elem.value
    if isinstance(value, bytes):
        if elem.VR in _TEXT_VRS and value.isascii():
            text = value.decode("ascii").strip(" \x00")
            return text.split("\\") if "\\" in text else text
        if elem.VR == "US" and len(value) == 2:
            return int.from_bytes(value, "little" if getattr(elem, "is_little_endian", True) else "big")
    return ds[_tag(keyword)].value


_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UI"})


def text_value(ds: Dataset, keyword: str) -> Optional[str]:
    value = _element_value(ds, keyword)
    if value is None:
        return None
    if isinstance(value, (MultiValue, list)):
        value = "\\".join(str(v) for v in value)
    text = str(value).strip()
    return text or None


def int_value(ds: Dataset, keyword: str) -> Optional[int]:
    value = _element_value(ds, keyword)
    if isinstance(value, (MultiValue, list)):
        value = value[0] if value else None
    try:
        return int(float(value)) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _floats(value: Any) -> list[float]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, (MultiValue, list, tuple)) else [value]
    out = []
    for item in items:
        try:
            out.append(float(item))
        except (TypeError, ValueError):
            pass
    return out


def view_position(ds: Dataset) -> Optional[str]:
    """The mammographic/radiographic view, from the most to the least reliable tag."""
    view = text_value(ds, "ViewPosition")
    if view:
        return view.upper()
    seq = ds.get("ViewCodeSequence")
    if seq:
        meaning = str(seq[0].get("CodeMeaning", "")).strip().lower()
        if meaning in _VIEW_MEANINGS:
            return _VIEW_MEANINGS[meaning]
    # Converted datasets (CBIS-DDSM among them) put the view into Patient
    # Orientation or the descriptions; accept only an exact known code.
    for keyword in ("PatientOrientation", "SeriesDescription", "PatientID"):
        text = (text_value(ds, keyword) or "").upper().replace("-", "_").replace(" ", "_")
        tokens = set(text.replace("\\", "_").split("_"))
        for code in _VIEW_CODES:
            if code in tokens:
                return code
    return None


def laterality(ds: Dataset) -> Optional[str]:
    for keyword in ("ImageLaterality", "Laterality", "FrameLaterality"):
        value = (text_value(ds, keyword) or "").upper()
        if value in ("L", "R", "B", "U"):
            return value
    return None


def metadata_from_dataset(ds: Dataset) -> ImageMetadata:
    name = text_value(ds, "PatientName")
    return ImageMetadata(
        patient_id=text_value(ds, "PatientID"),
        patient_name=name.replace("^", " ").strip() if name else None,
        sex=text_value(ds, "PatientSex"),
        age=text_value(ds, "PatientAge"),
        birth_date=text_value(ds, "PatientBirthDate"),
        study_uid=text_value(ds, "StudyInstanceUID"),
        series_uid=text_value(ds, "SeriesInstanceUID"),
        sop_instance_uid=text_value(ds, "SOPInstanceUID"),
        study_date=text_value(ds, "StudyDate"),
        accession_number=text_value(ds, "AccessionNumber"),
        institution=text_value(ds, "InstitutionName"),
        study_description=text_value(ds, "StudyDescription"),
        series_description=text_value(ds, "SeriesDescription"),
        series_number=int_value(ds, "SeriesNumber"),
        instance_number=int_value(ds, "InstanceNumber"),
        modality=text_value(ds, "Modality"),
        body_part=text_value(ds, "BodyPartExamined"),
        laterality=laterality(ds),
        view_position=view_position(ds),
        manufacturer=text_value(ds, "Manufacturer"),
        presentation_intent=text_value(ds, "PresentationIntentType"),
    )


def pixel_spacing(ds: Dataset) -> Optional[tuple[float, float]]:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        values = _floats(ds.get(keyword))
        if len(values) == 2 and all(v > 0 for v in values):
            return values[0], values[1]
    return None


def n_frames(ds: Dataset) -> int:
    return max(1, int_value(ds, "NumberOfFrames") or 1)


def _lut_domain(item: Dataset, signed: bool) -> tuple[int, int, int]:
    """(first mapped value, number of entries, bits) from a LUT Descriptor."""
    descriptor = [int(v) for v in item.LUTDescriptor]
    entries = descriptor[0] or 65536  # 0 means 2^16 entries (PS3.3 C.11.1.1)
    first = descriptor[1]
    if signed and first >= 32768:
        first -= 65536  # the descriptor's US value holds a signed first mapping
    return first, entries, descriptor[2]


def modality_lut(ds: Dataset) -> ModalityLut:
    seq = ds.get("ModalityLUTSequence")
    if seq:
        from pydicom.pixels.processing import apply_modality_lut as pd_apply

        signed = int(ds.get("PixelRepresentation", 0)) == 1
        first, entries, _bits = _lut_domain(seq[0], signed)
        domain = np.arange(first, first + entries, dtype=np.int64)
        # pydicom already parses every LUT Data encoding; feeding it the LUT's
        # own domain turns the sequence into a plain table.
        table = np.asarray(pd_apply(domain, ds), dtype=np.float32)
        return ModalityLut(lut=table, lut_first=first)
    slope = _floats(ds.get("RescaleSlope"))
    intercept = _floats(ds.get("RescaleIntercept"))
    return ModalityLut(slope=slope[0] if slope else 1.0, intercept=intercept[0] if intercept else 0.0)


def voi_presets(ds: Dataset) -> list[DisplayPreset]:
    """The file's VOI windows (with their explanations) then its VOI LUTs."""
    presets: list[DisplayPreset] = []
    centers = _floats(ds.get("WindowCenter"))
    widths = _floats(ds.get("WindowWidth"))
    explanations = ds.get("WindowCenterWidthExplanation")
    if explanations is not None and not isinstance(explanations, (MultiValue, list)):
        explanations = [explanations]
    function = (text_value(ds, "VOILUTFunction") or "LINEAR").upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        log.warning("unknown VOI LUT Function %r, using LINEAR", function)
        function = "LINEAR"
    for i, (center, width) in enumerate(zip(centers, widths, strict=False)):
        name = str(explanations[i]).strip() if explanations and i < len(explanations) else ""
        label = name or f"Window {i + 1}"
        if not (np.isfinite(center) and np.isfinite(width)):
            # "C nan / W nan" would show every pixel as one flat value.
            log.warning("ignoring window %d: center %g / width %g are not finite numbers", i + 1, center, width)
            continue
        if width <= 0 or (function == "LINEAR" and width < 1):
            log.warning("ignoring window %d: width %g is invalid for %s", i + 1, width, function)
            continue
        presets.append(DisplayPreset(f"{label} (C {center:g} / W {width:g})", center, width, function))
    seq = ds.get("VOILUTSequence")
    if seq:
        from pydicom.pixels.processing import apply_voi as pd_apply_voi

        signed = int(ds.get("PixelRepresentation", 0)) == 1 and not ds.get("ModalityLUTSequence")
        for i, item in enumerate(seq):
            try:
                first, entries, bits = _lut_domain(item, signed)
                domain = np.arange(first, first + entries, dtype=np.int64)
                table = np.asarray(pd_apply_voi(domain, ds, index=i), dtype=np.float32)
                top = max(float((1 << bits) - 1), float(table.max()) if table.size else 1.0)
                name = str(item.get("LUTExplanation", "")).strip() or f"VOI LUT {i + 1}"
                presets.append(DisplayPreset(name, lut=table / top, lut_first=first))
            except (AttributeError, ValueError, IndexError, TypeError) as exc:
                log.warning("ignoring an unreadable VOI LUT %d: %s", i + 1, exc)
    return presets
