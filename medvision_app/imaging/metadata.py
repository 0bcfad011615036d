"""Typed image metadata, with the fields that identify a patient marked."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional


def _identifying(default=None):
    return field(default=default, metadata={"identifying": True})


@dataclass(frozen=True)
class ImageMetadata:
    """What MedVision knows about an image besides its pixels.

    Every field may be ``None`` when the file does not say. Fields whose
    ``dataclasses.Field.metadata['identifying']`` is true identify the patient
    (see :data:`IDENTIFYING_FIELDS`).
    """

    patient_id: Optional[str] = _identifying()
    patient_name: Optional[str] = _identifying()
    sex: Optional[str] = None  # "M", "F", "O"
    age: Optional[str] = None  # DICOM age string such as "057Y"
    birth_date: Optional[str] = _identifying()  # YYYYMMDD
    study_uid: Optional[str] = _identifying()
    series_uid: Optional[str] = _identifying()
    sop_instance_uid: Optional[str] = _identifying()
    study_date: Optional[str] = _identifying()
    accession_number: Optional[str] = _identifying()
    institution: Optional[str] = _identifying()
    study_description: Optional[str] = None
    series_description: Optional[str] = None
    series_number: Optional[int] = None
    instance_number: Optional[int] = None
    modality: Optional[str] = None
    body_part: Optional[str] = None
    laterality: Optional[str] = None  # "L" or "R"
    view_position: Optional[str] = None  # "CC", "MLO", ...
    manufacturer: Optional[str] = None
    presentation_intent: Optional[str] = None  # "FOR PRESENTATION" / "FOR PROCESSING"

    def deidentified(self) -> "ImageMetadata":
        """A copy with every identifying field removed."""
        return dataclasses.replace(self, **{name: None for name in IDENTIFYING_FIELDS})

    def as_dict(self, *, include_identifying: bool = True) -> dict:
        data = dataclasses.asdict(self)
        if not include_identifying:
            for name in IDENTIFYING_FIELDS:
                data.pop(name, None)
        return data

    @property
    def age_years(self) -> Optional[float]:
        """The patient's age in years from the DICOM age string, if given."""
        if not self.age:
            return None
        text = self.age.strip().upper()
        unit = text[-1:] if text[-1:].isalpha() else "Y"
        digits = text.rstrip("DWMY")
        try:
            value = float(digits)
        except ValueError:
            return None
        return value / {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[unit]


# Fields that identify the patient or can be linked back to them (DICOM PS3.15
# Basic Profile). Reports de-identify by blanking these; logs never print them.
IDENTIFYING_FIELDS = frozenset(
    f.name for f in dataclasses.fields(ImageMetadata) if f.metadata.get("identifying")
)
