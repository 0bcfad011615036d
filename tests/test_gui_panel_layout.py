"""Panels as docked at laptop size: variants fill their cells, parameters visible, before/after not thumbnails."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from medvision_app.gui.augmentation_panel import AugmentationPanel  # noqa: E402
from medvision_app.gui.preprocessing_panel import PreprocessingPanel  # noqa: E402
from medvision_app.gui.window_geometry import scrolling  # noqa: E402
from medvision_app.samples import mammogram_phantom  # noqa: E402

TIMEOUT = 60000  # the first variants import torch: seconds on a loaded two-core machine


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    """A mammogram's shape: tall and narrow (the case that was drawn a fifth of its cell's width)."""
    image = mammogram_phantom("R", "CC", shape=(760, 470), seed=5).astype(np.float32)
    return image / image.max()


def _docked(qtbot, panel, width: int, height: int):
    """``panel`` as the main window docks it: in a scroll area of the dock's size."""
    area = scrolling(panel)
    qtbot.addWidget(area)
    area.resize(width, height)
    area.show()
    return area


def _finish(qtbot, panel) -> None:
    qtbot.waitUntil(lambda: not panel.engine.busy(), timeout=TIMEOUT)


def _drawn_fraction(grid, k: int) -> tuple[float, float]:
    """Width and height of cell ``k``'s image on screen as fractions of its cell's view box."""
    box, item = grid.boxes[k], grid.items[k]
    drawn = item.mapRectToScene(item.boundingRect())
    cell = box.sceneBoundingRect()
    return drawn.width() / cell.width(), drawn.height() / cell.height()


@pytest.mark.parametrize("width", [420, 380, 700])
def test_augmentation_variants_fill_their_cells(qtbot, portrait, width):
    panel = AugmentationPanel(seed=3)
    area = _docked(qtbot, panel, width, 500)  # noqa: F841 (owns the panel)
    with qtbot.waitSignal(panel.previewShown, timeout=TIMEOUT):
        panel.set_source(portrait)
    qtbot.wait(50)  # the grid's new height-for-width is laid out
    for k in range(9):
        fw, fh = _drawn_fraction(panel.grid, k)
        assert min(fw, fh) >= 0.85, f"variant {k + 1} covers {fw:.0%} x {fh:.0%} of its cell at width {width}"
    cells = sum(panel.grid.boxes[k].sceneBoundingRect().width() for k in range(3))
    assert cells >= 0.85 * panel.grid.width(), "the grid's columns leave its width unused"
    _finish(qtbot, panel)


@pytest.mark.parametrize("size", [(400, 420), (420, 640), (1000, 900)])
def test_preprocessing_parameters_are_all_visible_and_before_after_stay_large(qtbot, portrait, size):
    panel = PreprocessingPanel()
    area = _docked(qtbot, panel, *size)
    with qtbot.waitSignal(panel.previewShown, timeout=TIMEOUT):
        panel.set_source(portrait)
    with qtbot.waitSignal(panel.previewShown, timeout=TIMEOUT):
        panel.add_step("clahe")  # the selected step: its four parameters are shown
    qtbot.wait(50)
    controls = list(panel._form.controls.values())
    assert len(controls) >= 3
    for control in controls:
        # every parameter row wholly on screen, no splitter or scrolling needed
        visible = control.visibleRegion().boundingRect()
        assert visible.size() == control.size(), f"{control.spec.name} is clipped: {visible} of {control.rect()}"
        top = control.mapTo(area.viewport(), control.rect().topLeft()).y()
        assert 0 <= top and top + control.height() <= area.viewport().height()
    assert panel.view.height() >= 220, "before/after shrunk to thumbnails"
    for k in (0, 1):
        fw, fh = _drawn_fraction(panel.view, k)
        assert max(fw, fh) >= 0.9  # each image as large as its half of the view allows
    _finish(qtbot, panel)
