"""PNG, JPEG, TIFF, BMP and PGM, 8 and 16 bit; damaged and foreign files."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA, needs_shared
from PIL import Image

from medvision_app.imaging import ImageOpenError, open_image


def gradient(dtype, shape=(40, 60)):
    top = np.iinfo(dtype).max
    return (np.linspace(0, 1, shape[0] * shape[1]).reshape(shape) * top * 0.8).astype(dtype)


@pytest.mark.parametrize("suffix,fmt", [(".png", "PNG"), (".tif", "TIFF"), (".bmp", "BMP"), (".pgm", "PGM")])
def test_8bit_grayscale_round_trips_exactly(tmp_path, suffix, fmt):
    pixels = gradient(np.uint8)
    path = tmp_path / f"g8{suffix}"
    Image.fromarray(pixels).save(path)
    image = open_image(path)
    assert image.format == fmt and image.frames.dtype == np.uint8
    np.testing.assert_array_equal(image.frame(0), pixels)
    # An 8-bit export is shown as stored, not stretched.
    np.testing.assert_array_equal(image.display(), pixels)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".pgm"])
def test_16bit_keeps_full_precision(tmp_path, suffix):
    pixels = gradient(np.uint16)
    path = tmp_path / f"g16{suffix}"
    Image.fromarray(pixels).save(path)
    image = open_image(path)
    assert image.frames.dtype == np.uint16 and image.bits_stored == 16
    np.testing.assert_array_equal(image.frame(0), pixels)
    shown = image.display()
    assert shown.min() == 0 and shown.max() == 255  # full range by default


def test_colour_jpeg_and_rgba_png(tmp_path):
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=95)
    image = open_image(tmp_path / "c.jpg")
    assert image.format == "JPEG" and image.is_color and abs(int(image.display()[..., 0].mean()) - 200) < 4
    rgba = np.dstack([rgb, np.full((32, 32), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert open_image(tmp_path / "a.png").frames.shape == (1, 32, 32, 3)


def test_multipage_tiff_is_multiframe(tmp_path):
    pages = [Image.fromarray(np.full((16, 16), v, np.uint8)) for v in (10, 20, 30)]
    pages[0].save(tmp_path / "m.tif", save_all=True, append_images=pages[1:])
    image = open_image(tmp_path / "m.tif")
    assert image.n_frames == 3 and image.frame(2).max() == 30


def test_format_is_read_from_content_not_name(tmp_path):
    Image.fromarray(gradient(np.uint8)).save(tmp_path / "really_png.dcm", format="PNG")
    assert open_image(tmp_path / "really_png.dcm").format == "PNG"


@pytest.mark.parametrize(
    "name,content,reason",
    [
        ("empty.png", b"", "the file is empty"),
        ("garbage.bin", bytes(range(256)) * 8, "not a DICOM, PNG, JPEG, TIFF, BMP or PGM file"),
        ("fake.dcm", b"\x00" * 128 + b"DICM" + b"\xff" * 64, "DICOM"),
    ],
)
def test_bad_files_raise_the_documented_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageOpenError) as info:
        open_image(path)
    assert info.value.path == path and reason in info.value.reason


def test_truncated_png(tmp_path):
    Image.fromarray(gradient(np.uint8, (200, 200))).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageOpenError, match="cut.png: PNG image data could not be decoded"):
        open_image(tmp_path / "cut.png")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageOpenError, match="no such file"):
        open_image(tmp_path / "nothing.dcm")
    with pytest.raises(ImageOpenError, match="is a folder"):
        open_image(tmp_path)


@needs_shared
def test_real_ultrasound_and_mammogram_pngs():
    us = open_image(DATA / "busi-256" / "benign" / "benign (1).png")
    assert us.shape == (256, 256) and not us.is_color
    mias = open_image(next((DATA / "mini-mias-abnormal" / "benign").glob("*.png")))
    assert mias.shape == (1024, 1024)
    derm = open_image(next((DATA / "ham10000-200x150" / "images").glob("*.jpg")))
    assert derm.is_color and derm.shape == (150, 200)
