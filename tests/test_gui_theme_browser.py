"""Light theme re-tints icons at once; the study browser explains itself; colour images in the histogram panel."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from medvision_app.gui.augmentation_panel import AugmentationPanel  # noqa: E402
from medvision_app.gui.histogram_panel import COLOUR_PLACEHOLDER, HistogramPanel  # noqa: E402
from medvision_app.gui.image_viewport import ImageViewport  # noqa: E402
from medvision_app.gui.study_browser import StudyBrowser  # noqa: E402
from medvision_app.gui.theme import apply_theme, current_theme  # noqa: E402
from medvision_app.gui.workers import running_workers  # noqa: E402
from medvision_app.imaging import open_image  # noqa: E402
from medvision_app.imaging.viewing import index_files, prepare_frame  # noqa: E402
from medvision_app.samples import ensure_sample_study  # noqa: E402

TIMEOUT = 30000


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return ensure_sample_study(tmp_path_factory.mktemp("cache") / "sample")


@pytest.fixture
def browser(qtbot, sample):
    widget = StudyBrowser()
    qtbot.addWidget(widget)
    widget.resize(300, 600)
    widget.show()
    widget.show_index(index_files([sample]))
    yield widget
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)


def _lightness(qicon) -> float:
    """Mean lightness of an icon's drawn (opaque) pixels."""
    image = qicon.pixmap(24, 24).toImage()
    values = [QColor(image.pixel(x, y)).lightness() for x in range(24) for y in range(24)
              if QColor.fromRgba(image.pixel(x, y)).alpha() > 200]
    assert values, "the icon draws nothing"
    return float(np.mean(values))


def test_light_theme_retints_browser_and_panel_icons_without_restart(qtbot, browser):
    panel = AugmentationPanel()
    qtbot.addWidget(panel)
    patient = browser.tree.topLevelItem(0)
    app = QApplication.instance()
    before = current_theme()
    apply_theme(app, "dark")
    try:
        dark_tree, dark_button = _lightness(patient.icon(0)), _lightness(panel.reroll_button.icon())
        apply_theme(app, "light")
        light_tree, light_button = _lightness(patient.icon(0)), _lightness(panel.reroll_button.icon())
    finally:
        apply_theme(app, before)
    assert dark_tree > 150 and dark_button > 150  # light grey on the dark theme
    assert light_tree < 100 and light_button < 100  # dark on the light theme, at once
    assert _lightness(patient.icon(0)) == pytest.approx(dark_tree if before == "dark" else light_tree)


def test_every_name_has_a_tooltip_and_the_browser_says_how_to_open(browser):
    assert browser.hint.isVisible() and "Double-click" in browser.hint.text()
    stack = [browser.tree.invisibleRootItem()]
    seen = 0
    while stack:
        item = stack.pop()
        stack.extend(item.child(k) for k in range(item.childCount()))
        if item is browser.tree.invisibleRootItem():
            continue
        seen += 1
        assert item.toolTip(0), f"no tooltip on {item.text(0)!r}"
        assert item.text(0) in item.toolTip(0) or item.toolTip(0).endswith(item.text(0))
        if item.text(1):
            assert item.toolTip(1)
    assert seen >= 8


def _colour_png(path):
    from PIL import Image

    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[..., 0] = np.linspace(100, 250, 80, dtype=np.uint8)[None, :]
    rgb[..., 1] = 10  # means such as 36.67: the caption must not print them raw
    Image.fromarray(rgb).save(path)
    return path


def test_colour_image_has_a_labelled_preset_box_and_a_readable_range(qtbot, tmp_path, sample):
    viewport = ImageViewport()
    qtbot.addWidget(viewport)
    panel = HistogramPanel()
    qtbot.addWidget(panel)
    image = open_image(_colour_png(tmp_path / "lesion.png"))
    assert image.is_color
    viewport.set_prepared(image, prepare_frame(image, 0))
    panel.set_viewport(viewport)
    assert [panel.combo.itemText(k) for k in range(panel.combo.count())] == [COLOUR_PLACEHOLDER]
    assert not panel.combo.isEnabled()
    text = panel.caption.text()
    assert "brightness" in text and not re.search(r"\d\.\d", text), text
    # then a grey-scale image: its own windows come back and the box is usable again
    mammo = open_image(sample / "phantom-mammography" / "RCC.dcm")
    viewport.set_prepared(mammo, prepare_frame(mammo, 0))
    assert panel.combo.isEnabled() and panel.combo.count() >= 2
    assert not re.search(r"\d\.\d", panel.caption.text())


def test_a_real_ham10000_image_reads_as_colour_in_the_histogram_panel(qtbot, shared_data):
    path = shared_data / "ham10000-200x150" / "images" / "ISIC_0024306.jpg"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    viewport = ImageViewport()
    qtbot.addWidget(viewport)
    panel = HistogramPanel()
    qtbot.addWidget(panel)
    image = open_image(path)
    viewport.set_prepared(image, prepare_frame(image, 0))
    panel.set_viewport(viewport)
    assert panel.combo.currentText() == COLOUR_PLACEHOLDER
    assert re.fullmatch(r"\S+  colour, brightness \d+ to \d+ of 255", panel.caption.text()), panel.caption.text()
