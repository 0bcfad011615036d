"""Every real DICOM in ../shared/data opens (or fails cleanly), with the right pixels."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from conftest import DATA, needs_shared
from pydicom.data import get_testdata_file

from medvision_app.imaging import ImageOpenError, open_image

CODECS = DATA / "dicom-codecs"
KNOWN_BAD = "JPEGExtended__RG2_JPLY.dcm"
codec_files = sorted(CODECS.rglob("*.dcm")) if CODECS.is_dir() else []


@needs_shared
@pytest.mark.parametrize("path", [p for p in codec_files if p.name != KNOWN_BAD], ids=lambda p: p.name)
def test_every_codec_file_opens_and_displays(path):
    image = open_image(path)
    assert image.transfer_syntax
    for index in {0, image.n_frames - 1}:
        shown = image.display(index)
        assert shown.dtype == np.uint8
        assert shown.shape[:2] == image.shape
        assert shown.ndim == (3 if image.is_color else 2)
    # Stored values at full precision: never squashed to 8 bits.
    if not image.is_color and image.bits_stored > 8:
        assert image.frames.dtype.itemsize >= 2


@needs_shared
def test_known_bad_jpeg_gives_the_clear_error():
    with pytest.raises(ImageOpenError) as info:
        open_image(CODECS / "pylibjpeg-data" / KNOWN_BAD)
    message = str(info.value)
    assert message.startswith(str(CODECS / "pylibjpeg-data" / KNOWN_BAD))
    assert "JPEG Extended pixel data could not be decoded: " in message
    assert "Traceback" not in message and "\n" not in message


@needs_shared
def test_lossless_codecs_decode_to_identical_pixels():
    # The same MR series stored as RLE, JPEG-LS lossless and JPEG 2000 lossless.
    d = CODECS / "pylibjpeg-data"
    rle = open_image(d / "RLELossless__emri_small_RLE.dcm").frames
    jls = open_image(d / "JPEGLSLossless__emri_small_jpeg_ls_lossless.dcm").frames
    j2k = open_image(d / "JPEG2000Lossless__emri_small_jpeg_2k_lossless.dcm").frames
    assert rle.shape == (10, 64, 64)
    np.testing.assert_array_equal(rle, jls)
    np.testing.assert_array_equal(rle, j2k)
    # ...and the lossy near-lossless radiograph stays within its error bound of the lossless one.
    lossless = open_image(d / "JPEGLosslessSV1__RG2_JPLL.dcm").frames.astype(int)
    near = open_image(d / "JPEGLS__RG2_JLSN.dcm").frames.astype(int)
    assert 0 < np.abs(lossless - near).max() <= 10


@needs_shared
def test_monochrome1_radiograph_is_inverted_for_display():
    image = open_image(CODECS / "pylibjpeg-data" / "JPEG2000__RG1_J2KI.dcm")
    assert image.photometric == "MONOCHROME1"
    frame = image.frame(0)
    shown = image.display().astype(int)
    # The brightest display pixels are where the stored values are lowest.
    assert shown[frame <= np.percentile(frame, 5)].mean() > shown[frame >= np.percentile(frame, 95)].mean() + 100


@needs_shared
def test_ybr_colour_becomes_rgb():
    image = open_image(CODECS / "orthanc-tests" / "TS_1.2.840.10008.1.2.4.50.dcm")
    assert image.photometric.startswith("YBR") and image.is_color
    rgb = image.display()
    # The ultrasound's Doppler colour bar has saturated red and blue pixels: real RGB, not YCbCr.
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    # Grey pixels (the B-mode image and background) have equal channels; left
    # as YCbCr they would have Cb = Cr = 128 whatever their brightness.
    assert np.mean((abs(r - g) <= 8) & (abs(g - b) <= 8)) > 0.8
    assert ((r - g > 60) & (r - b > 60)).sum() > 200
    assert ((b - r > 60) & (b - g > 30)).sum() > 200


def test_pydicom_bundled_palette_and_multiframe_files():
    palette = open_image(get_testdata_file("examples_palette.dcm", download=False))
    assert palette.photometric == "PALETTE COLOR" and palette.is_color
    assert palette.display().shape[-1] == 3
    multi = open_image(get_testdata_file("SC_rgb_rle_2frame.dcm", download=False))
    assert multi.n_frames == 2 and multi.is_color
    big_endian = open_image(get_testdata_file("MR_small_bigendian.dcm", download=False))
    little = open_image(get_testdata_file("MR_small.dcm", download=False))
    np.testing.assert_array_equal(big_endian.frames, little.frames)
    ct = open_image(get_testdata_file("CT_small.dcm", download=False))
    assert ct.modality_lut.intercept == -1024 and ct.metadata.modality == "CT"
    assert ct.pixel_spacing is not None


def test_truncated_dicom_gives_the_clear_error():
    with pytest.raises(ImageOpenError, match="MR_truncated.dcm: .*pixel data"):
        open_image(get_testdata_file("MR_truncated.dcm", download=False))


@needs_shared
def test_cbis_ddsm_mammogram_metadata_and_view():
    folder = DATA / "cbis-ddsm-P_00173"
    views = {}
    for path in sorted(folder.glob("*.dcm")):
        image = open_image(path)
        assert image.frames.dtype == np.uint16 and image.frames.shape[1] > 4000
        views[(image.metadata.laterality, image.metadata.view_position)] = path.name
        assert image.metadata.modality == "MG" and image.transfer_syntax == "RLE Lossless"
    assert set(views) == {("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")}


@needs_shared
def test_openrem_headers():
    folder = DATA / "mg-headers-openrem"
    with pytest.raises(ImageOpenError, match="no pixel data"):
        open_image(folder / "MG-Im-Hologic-PropProj.dcm")
    ge = open_image(folder / "MG-Im-GE_Seno_1_ForPresentation.dcm")
    assert ge.metadata.manufacturer == "GE MEDICAL SYSTEMS"
    assert ge.metadata.presentation_intent == "FOR PRESENTATION"
    names = [p.name.split(" (")[0] for p in ge.presets]
    assert names[:3] == ["NORMAL", "HARDER", "SOFTER"] and ge.presets[0].function == "SIGMOID"
    assert any(not p.is_window for p in ge.presets)  # its VOI LUTs are presets too
    processing = open_image(folder / "MG-Im-GE_Seno_1_ForProcessing.dcm")
    assert processing.is_monochrome1


def test_identifying_fields_and_deidentification():
    image = open_image(get_testdata_file("CT_small.dcm", download=False))
    md = image.metadata
    assert md.patient_id and md.study_uid
    clean = md.deidentified()
    assert clean.patient_id is None and clean.patient_name is None and clean.study_uid is None
    assert clean.modality == md.modality
    assert "patient_id" not in md.as_dict(include_identifying=False)


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "rtdose_rle.dcm", "SC_rgb_rle_16bit.dcm"])
def test_direct_rle_decoding_matches_pydicom(name):
    # Grayscale 8/16-bit RLE bypasses pydicom's pixel pipeline; the result must be identical.
    path = get_testdata_file(name, download=False)
    image = open_image(path)
    reference = pydicom.dcmread(path).pixel_array
    if reference.ndim == image.frames.ndim - 1:
        reference = reference[np.newaxis]
    assert image.frames.dtype == reference.dtype
    np.testing.assert_array_equal(image.frames, reference)
