"""Writing small DICOM files for cases the real test files lack."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def write_dicom(path: Path, pixels: np.ndarray, **tags) -> Path:
    """Write ``pixels`` (H, W) or (F, H, W) as an uncompressed grayscale DICOM with ``tags``."""
    pixels = np.asarray(pixels)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = tags.pop("PatientID", "TEST-001")
    ds.PatientName = tags.pop("PatientName", "Doe^Jane")
    ds.StudyInstanceUID = tags.pop("StudyInstanceUID", generate_uid())
    ds.SeriesInstanceUID = tags.pop("SeriesInstanceUID", generate_uid())
    ds.Modality = tags.pop("Modality", "OT")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = tags.pop("PhotometricInterpretation", "MONOCHROME2")
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = tags.pop("BitsStored", ds.BitsAllocated)
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def voi_lut_item(first: int, table: np.ndarray, bits: int, explanation: str = "") -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [len(table), first, bits]
    item.LUTData = np.asarray(table, dtype="<u2").tobytes()
    if explanation:
        item.LUTExplanation = explanation
    return item


def sequence(*items: Dataset) -> Sequence:
    return Sequence(list(items))
