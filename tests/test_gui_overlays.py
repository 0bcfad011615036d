"""Viewport overlays: outlined corner text, and a file window that misses its pixel data."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

from medvision_app.gui.image_viewport import ImageViewport  # noqa: E402
from medvision_app.gui.viewport_overlays import OutlinedLabel  # noqa: E402
from medvision_app.imaging import open_image  # noqa: E402
from medvision_app.imaging.viewing import prepare_frame  # noqa: E402
from medvision_app.imaging.window_check import window_coverage  # noqa: E402

DX_NAME = "JPEG2000Lossless__JPEG2KLossless_1s_1f_u_16_16.dcm"


def test_window_coverage_counts_the_pixels_inside_the_window():
    counts, edges = np.histogram(np.arange(1000.0), bins=100, range=(0, 1000))
    half = window_coverage(counts, edges, 250.0, 500.0)
    assert half.covered == pytest.approx(0.5, abs=0.01) and not half.misses
    assert (half.data_low, half.data_high) == (0.0, 1000.0)
    # the DX's case: window 70..5380 over data 32744..65535
    counts, edges = np.histogram(np.linspace(32744, 65535, 5000), bins=256)
    miss = window_coverage(counts, edges, 2725.0, 5310.0)
    assert miss.covered == 0.0 and miss.misses
    assert miss.data_low == pytest.approx(32744) and miss.data_high == pytest.approx(65535)
    with pytest.raises(ValueError, match="one more entry"):
        window_coverage(counts, edges[:-1], 0.0, 1.0)
    with pytest.raises(ValueError, match="width"):
        window_coverage(counts, edges, 0.0, 0.0)


def test_a_narrow_clinical_window_does_not_count_as_a_miss():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 20, 9000), rng.normal(900, 50, 600)])  # 6 % bone
    counts, edges = np.histogram(values, bins=256)
    assert not window_coverage(counts, edges, 900.0, 300.0).misses


def _grab_over(qtbot, background: str, text_colour: str):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.setStyleSheet(f"background: {background};")
    label = OutlinedLabel(parent)
    label.setStyleSheet(f"background: transparent; color: {text_colour}; font-size: 14pt;")
    label.setText("RMLO\nW 5310")
    label.adjustSize()
    parent.resize(label.width() + 10, label.height() + 10)
    parent.show()
    qtbot.waitExposed(parent)
    image = parent.grab().toImage()
    lum = np.array([[QColor(image.pixel(x, y)).lightness() for x in range(label.width())]
                    for y in range(label.height())])
    return lum


def test_corner_text_has_a_dark_outline_over_white_tissue(qtbot):
    lum = _grab_over(qtbot, "white", "#c8ccd2")
    # light-grey text without an outline leaves no dark pixel on white: the outline does
    assert (lum < 60).sum() > 80
    assert (lum > 190).sum() > 80  # and the text itself stays light


def test_window_missing_the_data_is_said_in_the_overlay_with_one_click_full_range(qtbot, shared_data):
    path = next(shared_data.glob(f"dicom-codecs/**/{DX_NAME}"), None)
    if path is None:
        pytest.skip(f"{DX_NAME} is not in {shared_data / 'dicom-codecs'}")
    image = open_image(path)
    assert image.presets and image.presets[0].center == 2725 and image.presets[0].width == 5310
    viewport = ImageViewport()
    qtbot.addWidget(viewport)
    viewport.resize(500, 500)
    viewport.show()
    viewport.set_prepared(image, prepare_frame(image, 0))
    assert (viewport.display_array() == 255).mean() > 0.99  # all white: what the reader saw
    banner = viewport.window_banner
    assert banner.isVisible()
    text = banner.message.text()
    assert "misses the pixel data" in text and "65535" in text
    geometry = banner.geometry()
    assert viewport.view.rect().contains(geometry), "the banner is cut off"
    banner.button.click()
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=5000)
    shown = viewport.display_array()
    assert viewport.preset.name == "Full range"
    assert shown.std() > 10 and (shown == 255).mean() < 0.5  # the image is there now
    values = image.modality_values(0)
    low, high = viewport.window.center - viewport.window.width / 2, viewport.window.center + viewport.window.width / 2
    assert low <= values.min() + 1 and high >= values.max() - 1


def test_no_banner_when_the_files_window_fits(qtbot, tmp_path):
    from medvision_app.samples import ensure_sample_study

    sample = ensure_sample_study(tmp_path / "sample")
    image = open_image(sample / "phantom-mammography" / "RCC.dcm")
    assert image.presets  # the file's own windows, which fit its data
    viewport = ImageViewport()
    qtbot.addWidget(viewport)
    viewport.resize(400, 400)
    viewport.show()
    viewport.set_prepared(image, prepare_frame(image, 0))
    assert not viewport.window_banner.isVisible()
