"""Serialisable augmentation settings (JSON/TOML via ``medvision_app.utils.config_io``).

Every transform has a probability; a probability of 0 (the default) turns it
off, so ``AugmentationConfig()`` is the identity. Example (TOML)::

    horizontal_flip = 0.5

    [rotation]
    probability = 1.0
    degrees = [0.0, 360.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from medvision_app.utils.config_schema import option

__all__ = [
    "AugmentationConfig",
    "RotationConfig",
    "TranslationConfig",
    "ShearConfig",
    "ZoomConfig",
    "SvdConfig",
]


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: probability must be in [0, 1], got {value!r}")


@dataclass
class RotationConfig:
    """Rotation about the centre: uniform in ``degrees`` or, when ``choices`` is set, one of them.

    AlexNet/SqueezeNet paper: ``degrees = [0, 360]``; P-NET: ``[-90, 90]``;
    ENAS: ``choices = [90, 180, 270]``.
    """

    probability: float = option(0.0, help="Chance that a sample gets this transform.", range=(0.0, 1.0))
    degrees: tuple[float, float] = option((0.0, 0.0), help="Low and high angle of a uniform rotation.",
                                          range=(-360.0, 360.0), unit="degrees")
    choices: list[float] = option(help="Angles to pick from instead of the uniform range (e.g. 90, 180, 270).",
                                  default_factory=list, range=(-360.0, 360.0), unit="degrees")

    def __post_init__(self) -> None:
        _check_probability("rotation", self.probability)
        if self.degrees[0] > self.degrees[1]:
            raise ValueError(f"rotation: degrees must be [low, high] with low <= high, got {list(self.degrees)}")


@dataclass
class TranslationConfig:
    """Shift along each axis, uniform in ``[-pixels, pixels]`` (AlexNet paper: 30).

    When ``pixels`` is 0, ``fraction`` of the image size is used instead.
    """

    probability: float = option(0.0, help="Chance that a sample gets this transform.", range=(0.0, 1.0))
    pixels: float = option(0.0, help="Largest shift along each axis (0: use fraction).", range=(0.0, None),
                           unit="pixels")
    fraction: float = option(0.0, help="Largest shift as a fraction of the image size.", range=(0.0, 1.0))

    def __post_init__(self) -> None:
        _check_probability("translation", self.probability)
        if self.pixels < 0:
            raise ValueError(f"translation: pixels must be >= 0, got {self.pixels!r}")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"translation: fraction must be in [0, 1], got {self.fraction!r}")


@dataclass
class ShearConfig:
    """Shear angles along x and y, each uniform in ``[-degrees, degrees]``."""

    probability: float = option(0.0, help="Chance that a sample gets this transform.", range=(0.0, 1.0))
    degrees: float = option(0.0, help="Largest shear angle along each axis (below 90).", range=(0.0, 89.9),
                            unit="degrees")

    def __post_init__(self) -> None:
        _check_probability("shear", self.probability)
        if not 0.0 <= self.degrees < 90.0:
            raise ValueError(f"shear: degrees must be in [0, 90), got {self.degrees!r}")


@dataclass
class ZoomConfig:
    """Scale factor uniform in ``[1 - amount, 1 + amount]`` (P-NET: 0.2)."""

    probability: float = option(0.0, help="Chance that a sample gets this transform.", range=(0.0, 1.0))
    amount: float = option(0.0, help="Scale drawn from 1 - amount to 1 + amount (below 1).", range=(0.0, 0.99))

    def __post_init__(self) -> None:
        _check_probability("zoom", self.probability)
        if not 0.0 <= self.amount < 1.0:
            raise ValueError(f"zoom: amount must be in [0, 1), got {self.amount!r}")


@dataclass
class SvdConfig:
    """Low-rank reconstruction with ``k`` drawn from ``ranks`` (ENAS: 25, 35, 45)."""

    probability: float = option(0.0, help="Chance that a sample gets this transform.", range=(0.0, 1.0))
    ranks: list[int] = option(help="Ranks k of the low-rank reconstruction, one drawn per sample.",
                              default_factory=lambda: [25, 35, 45], range=(1, None))

    def __post_init__(self) -> None:
        _check_probability("svd", self.probability)
        if self.probability > 0 and not self.ranks:
            raise ValueError("svd: ranks must list at least one k when probability > 0")
        bad = [k for k in self.ranks if k < 1]
        if bad:
            raise ValueError(f"svd: ranks must be positive, got {bad}")


@dataclass
class AugmentationConfig:
    """All augmentation settings; see :func:`medvision_app.augmentation.build_augmenter`.

    Order applied: SVD reconstruction, inversion, then one affine resampling
    combining rotation, translation, shear and zoom, then flips.
    ``fill`` is the value of pixels moved in from outside the image.
    """

    rotation: RotationConfig = field(default_factory=RotationConfig)
    translation: TranslationConfig = field(default_factory=TranslationConfig)
    shear: ShearConfig = field(default_factory=ShearConfig)
    zoom: ZoomConfig = field(default_factory=ZoomConfig)
    horizontal_flip: float = option(0.0, help="Chance of a left-right flip.", range=(0.0, 1.0))
    vertical_flip: float = option(0.0, help="Chance of an up-down flip.", range=(0.0, 1.0))
    invert: float = option(0.0, help="Chance of intensity inversion (P-NET).", range=(0.0, 1.0))
    svd: SvdConfig = field(default_factory=SvdConfig)
    fill: float = option(0.0, help="Value of pixels moved in from outside the image.", range=(0.0, 1.0))
    interpolation: Literal["bilinear", "nearest"] = option("bilinear", help="Resampling of the affine transform.")
    description: str = option("", help="A note saved with the settings.")

    def __post_init__(self) -> None:
        _check_probability("horizontal_flip", self.horizontal_flip)
        _check_probability("vertical_flip", self.vertical_flip)
        _check_probability("invert", self.invert)
        if not 0.0 <= self.fill <= 1.0:
            raise ValueError(f"fill must be in [0, 1], got {self.fill!r}")
        if self.interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"interpolation must be 'bilinear' or 'nearest', got {self.interpolation!r}")

    @property
    def is_identity(self) -> bool:
        """Whether these settings leave every image as it is (the defaults, whatever the note): no augmenter needed."""
        return self == AugmentationConfig(description=self.description)


def default_preview_config() -> AugmentationConfig:
    """What ``medvision augment-preview`` shows without ``--config``: mild, typical settings."""
    return AugmentationConfig(
        rotation=RotationConfig(probability=0.7, degrees=(-20.0, 20.0)),
        translation=TranslationConfig(probability=0.5, fraction=0.05),
        zoom=ZoomConfig(probability=0.5, amount=0.1),
        horizontal_flip=0.5,
        description="default preview: rotation +-20, shift 5 %, zoom 0.1, horizontal flip",
    )
