"""``MedicalImage``: pixels at full precision plus what is needed to show them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from medvision_app.imaging.display import (
    DisplayPreset,
    ModalityLut,
    apply_modality_lut,
    color_to_uint8,
    full_range_preset,
    to_display,
    window,
)
from medvision_app.imaging.metadata import ImageMetadata


@dataclass
class MedicalImage:
    """One opened image (DICOM or raster), possibly multi-frame.

    Attributes
    ----------
    path : Path
        The file it came from.
    frames : ndarray
        Stored pixel values at full precision, shape ``(F, H, W)`` for
        grayscale or ``(F, H, W, 3)`` for colour (always RGB: YBR is converted
        and PALETTE COLOR applied on opening). Never rescaled to 8 bit.
    photometric : str
        The file's photometric interpretation as stored (``MONOCHROME1``,
        ``MONOCHROME2``, ``RGB``, ``YBR_FULL_422``, ``PALETTE COLOR``...).
    modality_lut : ModalityLut
        Stored values to modality values (grayscale only).
    presets : list of DisplayPreset
        The file's own VOI windows / VOI LUTs, in file order.
    pixel_spacing : (row, column) in mm, or None
    bits_stored : int
    transfer_syntax : str or None
        Name of the DICOM transfer syntax, None for raster files.
    format : str
        ``"DICOM"``, ``"PNG"``, ``"JPEG"``, ``"TIFF"``, ``"BMP"``, ``"PGM"``...
    metadata : ImageMetadata
    """

    path: Path
    frames: np.ndarray
    photometric: str
    format: str
    metadata: ImageMetadata = field(default_factory=ImageMetadata)
    modality_lut: ModalityLut = field(default_factory=ModalityLut)
    presets: list[DisplayPreset] = field(default_factory=list)
    pixel_spacing: Optional[tuple[float, float]] = None
    bits_stored: int = 8
    transfer_syntax: Optional[str] = None

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def is_color(self) -> bool:
        return self.frames.ndim == 4

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of one frame."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    @property
    def is_monochrome1(self) -> bool:
        return self.photometric == "MONOCHROME1"

    def frame(self, index: int = 0) -> np.ndarray:
        """Stored values of one frame, ``(H, W)`` or ``(H, W, 3)``."""
        if not -self.n_frames <= index < self.n_frames:
            raise IndexError(f"frame {index} out of range: {self.path.name} has {self.n_frames} frame(s)")
        return self.frames[index]

    def modality_values(self, index: int = 0) -> np.ndarray:
        """Modality values of one frame (float32 when a rescale applies)."""
        arr = self.frame(index)
        return arr if self.is_color else apply_modality_lut(arr, self.modality_lut)

    def default_preset(self, index: int = 0) -> DisplayPreset:
        """The file's first VOI preset, else a window over the frame's full range."""
        if self.presets:
            return self.presets[0]
        return full_range_preset(self.modality_values(index))

    def all_presets(self, index: int = 0) -> list[DisplayPreset]:
        return list(self.presets) if self.presets else [self.default_preset(index)]

    def display(
        self,
        index: int = 0,
        *,
        preset: Optional[DisplayPreset] = None,
        center: Optional[float] = None,
        width: Optional[float] = None,
        invert: bool = False,
    ) -> np.ndarray:
        """The frame as the viewer shows it: uint8, ``(H, W)`` or ``(H, W, 3)``.

        The VOI is ``preset``, else an explicit ``center``/``width`` (LINEAR),
        else :meth:`default_preset`. MONOCHROME1 is inverted after the VOI;
        ``invert`` flips the result again (the viewer's Invert button).
        """
        arr = self.frame(index)
        if self.is_color:
            return color_to_uint8(arr, self.bits_stored, invert)
        if preset is None:
            if center is not None and width is not None:
                preset = DisplayPreset("Custom", center=float(center), width=float(width))
            else:
                preset = self.default_preset(index)
        return to_display(arr, self.modality_lut, preset, invert=self.is_monochrome1 != invert)

    def display_float(self, index: int = 0) -> np.ndarray:
        """The default display as float32 in [0, 1]: the input of preprocessing and models."""
        return self.display(index).astype(np.float32) / 255.0


__all__ = ["MedicalImage", "DisplayPreset", "ModalityLut", "ImageMetadata", "window"]
