"""The metadata vector of a metadata-fusion model: from the image's DICOM tags and what the user states.

A model trained with patient metadata (age, sex, lesion site) carries its
:class:`~medvision_app.data.metadata.MetadataEncoding` in the model card, so
the vector is built exactly as in training. Values come from the DICOM
header (PatientAge, PatientSex, BodyPartExamined) unless the user gives
them; what is known neither way is encoded as ``"unknown"``, as training
did for missing values, and :func:`encode_patient` names it so the caller
can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from medvision_app.data.metadata import UNKNOWN, MetadataEncoding
from medvision_app.inference.card import ModelCard
from medvision_app.inference.errors import ModelError
from medvision_app.utils.config_io import ConfigError, from_dict

# DICOM PatientSex codes and the words the training tables use (HAM10000: male/female).
_SEX_WORDS = {"m": "male", "f": "female", "o": UNKNOWN}


@dataclass(frozen=True)
class PatientFacts:
    """Age in years, sex and site as stated; None where unknown."""

    age: Optional[float] = None
    sex: Optional[str] = None
    site: Optional[str] = None

    def overridden_by(self, other: "PatientFacts") -> "PatientFacts":
        """These facts with every value ``other`` gives in their place."""
        return PatientFacts(
            other.age if other.age is not None else self.age,
            other.sex if other.sex is not None else self.sex,
            other.site if other.site is not None else self.site,
        )


def facts_from_image(image) -> PatientFacts:
    """Age, sex and body part from an opened image's metadata (all None for a raster file)."""
    md = getattr(image, "metadata", None)
    if md is None:
        return PatientFacts()
    return PatientFacts(md.age_years, md.sex or None, md.body_part or None)


def _category(value: Optional[str], known: list[str], aliases: dict[str, str]) -> Optional[str]:
    if value is None:
        return None
    word = value.strip().lower().replace("_", " ")
    if word in known:
        return word
    alias = aliases.get(word)
    return alias if alias in known else None


def encode_patient(card: ModelCard, facts: PatientFacts, source: str = "") -> tuple[np.ndarray, list[str]]:
    """The model's metadata vector for ``facts``, and the names of the facts it had to treat as unknown.

    A stated sex or site the model never saw in training counts as unknown
    too (and is named), as the training encoding would have it.

    Raises
    ------
    ModelError
        When the card lacks the encoding (a model exported without it).
    """
    if not card.metadata_encoding:
        raise ModelError(source or card.name, "the model takes patient metadata but its card lacks the encoding")
    try:
        encoding = from_dict(MetadataEncoding, card.metadata_encoding, where="metadata_encoding")
    except ConfigError as exc:
        raise ModelError(source or card.name, f"unreadable metadata encoding in the card: {exc}") from None
    sex = _category(facts.sex, encoding.sexes, _SEX_WORDS)
    site = _category(facts.site, encoding.sites, {})
    vector = encoding.encode(facts.age, sex, site)
    unknown = [name for name, value in (("age", facts.age), ("sex", sex), ("site", site)) if value is None]
    if vector.shape[0] != card.metadata_features:
        raise ModelError(source or card.name, f"the card's metadata encoding gives {vector.shape[0]} features, "
                                              f"the model takes {card.metadata_features}")
    return vector, unknown
