"""Opening medical images: DICOM in all common transfer syntaxes, and raster files.

The entry point is :func:`open_image`; every failure raises :class:`ImageOpenError`.
"""

from medvision_app.imaging.display import DisplayPreset, ModalityLut
from medvision_app.imaging.errors import ImageOpenError
from medvision_app.imaging.medical_image import MedicalImage
from medvision_app.imaging.metadata import IDENTIFYING_FIELDS, ImageMetadata
from medvision_app.imaging.reader import open_image

__all__ = [
    "DisplayPreset",
    "IDENTIFYING_FIELDS",
    "ImageMetadata",
    "ImageOpenError",
    "MedicalImage",
    "ModalityLut",
    "open_image",
]
