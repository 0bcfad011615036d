"""Encoding patient metadata (age, sex, lesion site) as a model input vector."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

UNKNOWN = "unknown"


@dataclass
class MetadataEncoding:
    """How metadata becomes features, fitted on the training split and saved in the run.

    Features, in order: age standardised with the training mean and standard
    deviation (0 where unknown), a 1/0 flag "age known", one-hot sex, one-hot
    site. ``"unknown"`` is always a category of its own; a category never
    seen in training is encoded as ``"unknown"``.
    """

    age_mean: float = 0.0
    age_std: float = 1.0
    sexes: list[str] = field(default_factory=lambda: [UNKNOWN])
    sites: list[str] = field(default_factory=lambda: [UNKNOWN])

    @property
    def n_features(self) -> int:
        return 2 + len(self.sexes) + len(self.sites)

    def encode(self, age: Optional[float], sex: Optional[str], site: Optional[str]) -> np.ndarray:
        """One sample's feature vector, float32 of length :attr:`n_features`."""
        out = np.zeros(self.n_features, dtype=np.float32)
        if age is not None and not math.isnan(age):
            out[0] = (age - self.age_mean) / self.age_std
            out[1] = 1.0
        sex = (sex or UNKNOWN).lower()
        site = (site or UNKNOWN).lower()
        out[2 + (self.sexes.index(sex) if sex in self.sexes else self.sexes.index(UNKNOWN))] = 1.0
        base = 2 + len(self.sexes)
        out[base + (self.sites.index(site) if site in self.sites else self.sites.index(UNKNOWN))] = 1.0
        return out

    def encode_many(
        self,
        ages: Optional[np.ndarray],
        sexes: Optional[Sequence[str]],
        sites: Optional[Sequence[str]],
        n: int,
    ) -> np.ndarray:
        """Feature matrix ``(n, n_features)`` float32; absent columns count as unknown."""
        return np.stack(
            [
                self.encode(
                    None if ages is None else float(ages[i]),
                    None if sexes is None else sexes[i],
                    None if sites is None else sites[i],
                )
                for i in range(n)
            ]
        ) if n else np.zeros((0, self.n_features), dtype=np.float32)


def fit_encoding(
    ages: Optional[np.ndarray], sexes: Optional[Sequence[str]], sites: Optional[Sequence[str]]
) -> MetadataEncoding:
    """Fit the encoding on the training split's metadata."""
    mean, std = 0.0, 1.0
    if ages is not None:
        known = np.asarray(ages, dtype=float)
        known = known[~np.isnan(known)]
        if known.size:
            mean = float(known.mean())
            std = float(known.std()) or 1.0

    def categories(values):
        found = sorted({(v or UNKNOWN).lower() for v in values}) if values is not None else []
        return [UNKNOWN] + [v for v in found if v != UNKNOWN]

    return MetadataEncoding(age_mean=mean, age_std=std, sexes=categories(sexes), sites=categories(sites))
