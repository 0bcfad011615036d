"""De-identification of what a report shows, after DICOM PS3.15 Annex E's Basic Application Level
Confidentiality Profile.

The attribute rules come from dicognito (a maintained implementation of the
profile's replace/remove actions for names, IDs, UIDs, addresses,
institutions and staff); on top of its output this module removes the
private attributes, the free-text attributes the profile removes (comments,
descriptions, history) and, choosing the profile's "remove" over "shift",
every date and time. The report then reads only a short list of
non-identifying attributes (modality, laterality, view, body part) from the
result, so an attribute the rules miss still never reaches the page.

Burned-in text is not touched by attribute rules: :func:`burned_in_warning`
says when an image is likely to carry it and :func:`mask_border` blanks a
border band, where ultrasound and secondary-capture devices put it.
"""

from __future__ import annotations

import copy
from typing import Optional

import numpy as np
from pydicom.dataset import Dataset

from medvision_app.imaging.metadata import ImageMetadata

# Basic Profile attributes (PS3.15 Table E.1-1, action X or Z) that dicognito
# leaves in place: free text that may name or describe the patient, and
# the patient characteristics the profile removes unless an option retains them.
_ALSO_REMOVE = (
    "AdditionalPatientHistory", "AdmittingDiagnosesDescription", "Allergies", "DerivationDescription",
    "DeviceSerialNumber", "EthnicGroup", "ImageComments", "InterpretationText", "MedicalAlerts",
    "OtherPatientNames", "PatientAge", "PatientBirthName", "PatientComments", "PatientMotherBirthName",
    "PatientSex", "PatientSize", "PatientWeight", "PerformedProcedureStepDescription", "ProtocolName",
    "RequestAttributesSequence", "SeriesDescription", "StudyDescription", "StudyComments", "TextComments",
    "AcquisitionComments", "ContrastBolusAgent", "PatientState", "PregnancyStatus", "SmokingStatus",
    "ReasonForStudy", "RequestedProcedureDescription", "ScheduledProcedureStepDescription",
)
_DATE_VRS = ("DA", "DT", "TM")

# Modalities whose devices commonly write text into the pixels (PS3.15 E.1.1 and practice).
BURNED_IN_MODALITIES = {"US": "ultrasound", "SC": "secondary capture"}

METHOD = ("DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile: names, IDs, UIDs, "
          "institution and staff replaced or removed (dicognito {version}), private attributes, free-text "
          "descriptions and every date and time removed; file names not shown")


def method_text() -> str:
    try:
        from dicognito import __version__ as version
    except ImportError:  # pragma: no cover - dicognito is a dependency
        version = "?"
    return METHOD.format(version=version)


def deidentify_dataset(ds: Dataset) -> Dataset:
    """A de-identified copy of a DICOM header (pixel data, if any, dropped); ``ds`` is not modified."""
    from dicognito.anonymizer import Anonymizer

    out = copy.deepcopy(ds)
    if "PixelData" in out:
        del out.PixelData
    if not hasattr(out, "file_meta"):
        from pydicom.dataset import FileMetaDataset

        out.file_meta = FileMetaDataset()
    Anonymizer().anonymize(out)
    out.remove_private_tags()
    for keyword in _ALSO_REMOVE:
        if keyword in out:
            delattr(out, keyword)

    def drop_dates(dataset, element):
        if element.VR in _DATE_VRS:
            del dataset[element.tag]

    out.walk(drop_dates)
    out.PatientIdentityRemoved = "YES"
    return out


def shown_metadata(metadata: ImageMetadata) -> ImageMetadata:
    """Only the fields a de-identified report may print: modality, body part, laterality, view, intent."""
    keep = ("modality", "body_part", "laterality", "view_position", "presentation_intent")
    return ImageMetadata(**{k: getattr(metadata, k) for k in keep})


def deidentified_metadata(ds: Dataset) -> ImageMetadata:
    from medvision_app.imaging.dicom_header import metadata_from_dataset

    return shown_metadata(metadata_from_dataset(deidentify_dataset(ds)).deidentified())


def burned_in_warning(ds: Optional[Dataset], metadata: Optional[ImageMetadata] = None) -> Optional[str]:
    """Why the image may carry burned-in identifying text, or None."""
    flag = str(getattr(ds, "BurnedInAnnotation", "") or "").strip().upper() if ds is not None else ""
    if flag == "YES":
        return "the file states BurnedInAnnotation = YES: text in the pixels may identify the patient"
    modality = (getattr(ds, "Modality", None) if ds is not None else None) or getattr(metadata, "modality", None)
    modality = str(modality or "").strip().upper()
    # warned about even when the file says NO: the flag is set by the device, and ultrasound and
    # secondary-capture devices are the ones whose text lands in the pixels
    if modality in BURNED_IN_MODALITIES:
        return (f"{BURNED_IN_MODALITIES[modality]} ({modality}) images commonly carry burned-in text "
                "that may identify the patient")
    return None


def mask_border(image: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """A copy with a band of ``fraction`` of the height (top, bottom) and width (left, right) set to black."""
    if not 0.0 < fraction < 0.5:
        raise ValueError(f"border fraction {fraction} must be between 0 and 0.5")
    out = np.array(image, copy=True)
    rows, cols = out.shape[:2]
    r, c = max(1, int(round(rows * fraction))), max(1, int(round(cols * fraction)))
    out[:r] = 0
    out[-r:] = 0
    out[:, :c] = 0
    out[:, -c:] = 0
    return out
