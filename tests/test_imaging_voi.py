"""The grayscale display pipeline: Modality LUT, VOI functions, MONOCHROME1."""

from __future__ import annotations

import numpy as np
import pytest
from dicom_factory import sequence, voi_lut_item, write_dicom

from medvision_app.imaging import DisplayPreset, ModalityLut, open_image
from medvision_app.imaging.display import apply_modality_lut, to_display, window


def test_linear_window_follows_the_standard_formula():
    # PS3.3 C.11.2.1.2 with c=100, w=21: x <= 89.5 -> 0, x > 109.5 -> 255.
    x = np.array([80, 89, 90, 100, 109, 110, 200], dtype=np.float32)
    y = window(x, 100, 21)
    assert y[0] == 0 and y[1] == 0 and y[-1] == 255 and y[-2] == 255
    expected = ((x[2:5] - 99.5) / 20 + 0.5) * 255
    np.testing.assert_allclose(y[2:5], expected, rtol=1e-6)


def test_linear_exact_and_sigmoid():
    x = np.array([0.0, 50.0, 100.0], dtype=np.float32)
    np.testing.assert_allclose(window(x, 50, 100, function="LINEAR_EXACT"), [0, 127.5, 255])
    s = window(x, 50, 100, function="SIGMOID")
    np.testing.assert_allclose(s, 255 / (1 + np.exp(-4 * (x - 50) / 100)), rtol=1e-6)
    assert s[1] == pytest.approx(127.5)


@pytest.mark.parametrize("function,width", [("LINEAR", 0.5), ("LINEAR_EXACT", 0), ("SIGMOID", -1), ("CUBIC", 10)])
def test_invalid_windows_are_rejected_with_the_value(function, width):
    with pytest.raises(ValueError, match=str(width) if function != "CUBIC" else "CUBIC"):
        window(np.zeros(3), 0, width, function=function)


def test_modality_rescale_then_window():
    stored = np.array([[0, 1000], [2000, 4095]], dtype=np.uint16)
    values = apply_modality_lut(stored, ModalityLut(slope=2.0, intercept=-1024.0))
    np.testing.assert_allclose(values, stored * 2.0 - 1024)
    assert apply_modality_lut(stored, ModalityLut()) is stored


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.uint8, np.int8])
def test_fast_paths_equal_direct_computation(dtype, function):
    # Large arrays take OpenCV (linear windows) or the per-value lookup table
    # (everything else); small ones compute directly in float.
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype)
    big = rng.integers(info.min, info.max, size=(400, 300), endpoint=True).astype(dtype)
    modality = ModalityLut(slope=1.5, intercept=-20)
    preset = DisplayPreset("w", center=float(info.max) / 3, width=float(info.max) / 2, function=function)
    fast = to_display(big, modality, preset, invert=True)
    direct = np.concatenate([to_display(row[None], modality, preset, invert=True) for row in big[:50]])
    assert fast.dtype == np.uint8
    diff = np.abs(fast[:50].astype(int) - direct)
    if function == "SIGMOID":
        assert diff.max() == 0
    else:
        # OpenCV rounds alpha*x+beta in single precision: a value sitting on a
        # .5 boundary may land one grey level away, never more.
        assert diff.max() <= 1 and diff.mean() < 0.01
    assert fast[:50].min() < 10 and fast[:50].max() > 235  # the window really spans the data


def test_monochrome1_inverted_after_voi_and_invert_button(tmp_path):
    pixels = np.arange(256 * 256, dtype=np.uint16).reshape(256, 256) % 4096
    path = write_dicom(
        tmp_path / "m1.dcm", pixels, PhotometricInterpretation="MONOCHROME1", BitsStored=12,
        WindowCenter=1000, WindowWidth=500,
    )
    image = open_image(path)
    shown = image.display()
    # Low stored values are bright in MONOCHROME1: after the window, inverted.
    expected = 255 - np.rint(window(pixels, 1000, 500)).astype(np.uint8)
    np.testing.assert_array_equal(shown, expected)
    np.testing.assert_array_equal(image.display(invert=True), 255 - shown)


def test_monochrome1_with_a_voi_lut_sequence(tmp_path):
    pixels = (np.arange(128 * 128, dtype=np.uint16).reshape(128, 128) * 3) % 1024
    table = np.clip(np.arange(512) * 16, 0, 4095).astype(np.uint16)  # a 12-bit ramp over 100..611
    path = write_dicom(
        tmp_path / "m1lut.dcm", pixels, PhotometricInterpretation="MONOCHROME1", BitsStored=10,
        VOILUTSequence=sequence(voi_lut_item(100, table, 12, "STEEP")),
    )
    image = open_image(path)
    assert [p.name for p in image.presets] == ["STEEP"]
    shown = image.display().astype(int)
    idx = np.clip(pixels.astype(int) - 100, 0, 511)
    expected = 255 - np.rint(table[idx] / 4095 * 255)
    np.testing.assert_array_equal(shown, expected)
    assert shown[pixels <= 100].min() == 255  # below the LUT's domain: first entry, inverted


def test_sigmoid_and_several_windows_with_explanations(tmp_path):
    pixels = np.linspace(0, 4000, 64 * 64).astype(np.uint16).reshape(64, 64)
    path = write_dicom(
        tmp_path / "sig.dcm", pixels, BitsStored=12, WindowCenter=[2000, 1500], WindowWidth=[800, 3000],
        WindowCenterWidthExplanation=["NORMAL", "WIDE"], VOILUTFunction="SIGMOID",
    )
    image = open_image(path)
    assert [p.name.split(" (")[0] for p in image.presets] == ["NORMAL", "WIDE"]
    assert {p.function for p in image.presets} == {"SIGMOID"}
    expected = np.rint(window(pixels, 2000, 800, function="SIGMOID")).astype(np.uint8)
    np.testing.assert_array_equal(image.display(), expected)
    wide = image.display(preset=image.presets[1])
    assert not np.array_equal(wide, image.display())


def test_modality_lut_sequence(tmp_path):
    pixels = np.tile(np.arange(0, 256, dtype=np.uint16), (64, 1))
    lut = (np.arange(256) ** 2 // 16).astype(np.uint16)  # a non-linear modality LUT
    path = write_dicom(
        tmp_path / "mlut.dcm", pixels, BitsStored=8 * 2,
        ModalityLUTSequence=sequence(voi_lut_item(0, lut, 16)),
    )
    image = open_image(path)
    np.testing.assert_allclose(image.modality_values(), lut[pixels])


def test_rescale_and_signed_pixels(tmp_path):
    pixels = np.linspace(-1024, 3000, 300 * 300).astype(np.int16).reshape(300, 300)
    path = write_dicom(
        tmp_path / "ct.dcm", pixels, Modality="CT", RescaleSlope=1, RescaleIntercept=-1024,
        WindowCenter=40, WindowWidth=400, WindowCenterWidthExplanation="BRAIN",
    )
    image = open_image(path)
    assert image.frames.dtype == np.int16
    hu = pixels.astype(np.float32) - 1024
    expected = np.rint(window(hu, 40, 400)).astype(np.uint8)
    np.testing.assert_allclose(image.display(), expected, atol=1)


def test_full_range_default_when_no_window(tmp_path):
    pixels = np.linspace(1000, 3000, 64 * 64).astype(np.uint16).reshape(64, 64)
    image = open_image(write_dicom(tmp_path / "nw.dcm", pixels, BitsStored=12))
    shown = image.display()
    assert shown.min() == 0 and shown.max() == 255
    assert image.frames.dtype == np.uint16 and image.frames.max() == 3000  # stored values kept


def test_multiframe_access(tmp_path):
    frames = np.stack([np.full((32, 32), i * 100, np.uint16) for i in range(5)])
    image = open_image(write_dicom(tmp_path / "mf.dcm", frames, BitsStored=12))
    assert image.n_frames == 5 and image.shape == (32, 32)
    assert image.frame(3).max() == 300
    with pytest.raises(IndexError, match="5 frame"):
        image.frame(5)
