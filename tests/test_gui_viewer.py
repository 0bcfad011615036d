"""The workstation window under pytest-qt (offscreen): opening, window/level, layouts, errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402

from medvision_app.gui.main_window import MainWindow  # noqa: E402
from medvision_app.gui.workers import running_workers  # noqa: E402
from medvision_app.imaging.hanging import GRID, MAMMO_FOUR_VIEW  # noqa: E402
from medvision_app.samples import ensure_sample_study  # noqa: E402

TIMEOUT = 15000


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return ensure_sample_study(tmp_path_factory.mktemp("cache") / "sample")


@pytest.fixture
def window(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    yield win
    win.browser.cancel_scan()
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)


def _open(qtbot, win, paths):
    win.open_paths(paths)
    qtbot.waitUntil(lambda: not win.browser.is_scanning() and not win.grid.is_loading()
                    and any(v.image is not None for v in win.grid.visible_viewports()), timeout=TIMEOUT)


def test_open_file_shows_image_status_and_histogram(qtbot, window, sample):
    _open(qtbot, window, [sample / "CT_small.dcm"])
    viewport = window.grid.active
    assert viewport.image.metadata.modality == "CT"
    shown = viewport.display_array()
    assert shown.dtype == np.uint8 and shown.shape == (128, 128)
    np.testing.assert_array_equal(shown, viewport.image.display(0, preset=viewport.preset))
    assert window.status.fields["size"].text() == "128 x 128"
    assert window.status.fields["window"].text().startswith("W ")
    # The file has no windows of its own: its full range first, then the CT presets.
    names = [window.histogram.combo.itemText(i) for i in range(window.histogram.combo.count())]
    assert names[0] == "Full range" and "Lung" in names
    assert str((sample / "CT_small.dcm").resolve()) in window.recent()


def test_right_drag_and_presets_change_window_and_pixels(qtbot, window, sample):
    _open(qtbot, window, [sample / "CT_small.dcm"])
    viewport = window.grid.active
    before_window, before = viewport.window, viewport.display_array().copy()
    viewport.box.windowDragged.emit(-80.0, 30.0)  # what a right-drag reports
    viewport.box.windowDragFinished.emit()
    assert viewport.window.width < before_window.width
    assert viewport.window.center < before_window.center
    assert not np.array_equal(viewport.display_array(), before)
    assert window.status.fields["window"].text() == f"W {viewport.window.width:.0f} / L {viewport.window.center:.0f}"
    lo, hi = window.histogram.region.getRegion()
    assert (lo + hi) / 2 == pytest.approx(viewport.window.center)
    lung = next(i for i in range(window.histogram.combo.count()) if window.histogram.combo.itemText(i) == "Lung")
    window.histogram._on_preset_chosen(lung)
    assert (viewport.window.center, viewport.window.width) == (-600.0, 1500.0)
    np.testing.assert_array_equal(viewport.display_array(), viewport.image.display(0, center=-600, width=1500))


def test_invert_rotate_and_pixel_readout(qtbot, window, sample):
    _open(qtbot, window, [sample / "CT_small.dcm"])
    viewport = window.grid.active
    before = viewport.display_array().copy()
    window.act_invert.trigger()
    np.testing.assert_array_equal(viewport.display_array(), 255 - before)
    window.act_rotate.trigger()
    assert viewport.rotation == 1
    received = []
    viewport.cursorMoved.connect(received.append)
    center = viewport.item.mapToScene(viewport.item.boundingRect().center())
    viewport._on_mouse_moved(center)
    assert received and "stored" in received[-1]


def test_four_view_hanging_links_window_and_switches_layouts(qtbot, window, sample):
    _open(qtbot, window, [sample])  # the folder: CT, MR and the phantom four-view
    qtbot.waitUntil(lambda: all(v.image is not None for v in window.grid.visible_viewports()), timeout=TIMEOUT)
    grid = window.grid
    assert grid.hanging.protocol == MAMMO_FOUR_VIEW and grid.linked
    labels = [v.label for v in grid.visible_viewports()]
    assert labels == ["RCC", "LCC", "RMLO", "LMLO"]
    # The phantom's chest walls already face the middle: nothing is mirrored.
    assert not any(v.auto_flip_h for v in grid.visible_viewports())
    first, others = grid.visible_viewports()[0], grid.visible_viewports()[1:]
    first.set_window(1800.0, 900.0, from_user=True)
    assert all((v.window.center, v.window.width) == (1800.0, 900.0) for v in others)
    first.set_zoom(0.5)
    first.zoomEdited.emit(0.5)
    assert all(v.zoom() == pytest.approx(0.5, rel=0.05) for v in others)

    window.act_layouts["1x2"].trigger()
    qtbot.waitUntil(lambda: not grid.is_loading(), timeout=TIMEOUT)
    assert grid.hanging.protocol == GRID and len(grid.visible_viewports()) == 2
    assert all(v.image is not None for v in grid.visible_viewports())
    window.act_layouts["1x1"].trigger()
    qtbot.waitUntil(lambda: not grid.is_loading(), timeout=TIMEOUT)
    assert len(grid.visible_viewports()) == 1 and not grid.viewports[1].isVisible()


def test_corrupt_file_gives_a_notification_and_window_stays_usable(qtbot, window, sample, tmp_path):
    bad = tmp_path / "broken.dcm"
    data = (sample / "CT_small.dcm").read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # header intact, pixel data cut short
    junk = tmp_path / "notes.dcm"
    junk.write_bytes(b"this is not an image at all" * 10)
    window.open_paths([bad, junk, sample / "MR_small.dcm"])
    qtbot.waitUntil(lambda: not window.browser.is_scanning(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: len(window.notifications.history) >= 1, timeout=TIMEOUT)
    unreadable = window.browser.tree.topLevelItem(window.browser.tree.topLevelItemCount() - 1)
    assert unreadable.text(0).startswith("Unreadable files (1)")
    assert "notes.dcm" in unreadable.child(0).text(0) and unreadable.child(0).text(1)
    # Opening the truncated file itself fails in the decoder worker, not in the GUI.
    window.grid.open_items([(None, bad)], "1x1")
    qtbot.waitUntil(lambda: any("broken.dcm" in n.message for n in window.notifications.history), timeout=TIMEOUT)
    notice = next(n for n in window.notifications.history if "broken.dcm" in n.message)
    assert notice.level == "error" and str(bad) in notice.details
    card = next(c for c in window.notifications.cards if c.notice is notice)
    assert card.details.isHidden()
    card.details_button.click()
    assert not card.details.isHidden()
    assert window.isVisible()
    _open(qtbot, window, [sample / "MR_small.dcm"])
    assert window.grid.active.image.metadata.modality == "MR"


def test_layout_is_saved_to_settings_at_once(qtbot, window):
    window.docks["augmentation"].hide()
    assert window.settings.value("windowState") is not None
    fresh = QSettings(window.settings.fileName(), QSettings.Format.IniFormat)
    assert fresh.value("windowState") == window.saveState()


def test_frame_slider_steps_through_a_multi_frame_image(qtbot, window):
    from pydicom.data import get_testdata_file

    path = get_testdata_file("SC_rgb_rle_2frame.dcm", download=False)
    if path is None:
        pytest.skip("pydicom's bundled multi-frame file is missing")
    _open(qtbot, window, [Path(path)])
    viewport = window.grid.active
    assert viewport.image.n_frames == 2 and window.frame_slider_action.isVisible()
    first = viewport.display_array().copy()
    window.frame_slider.setValue(1)
    qtbot.waitUntil(lambda: viewport.frame_index == 1, timeout=5000)  # frames are prepared off the GUI thread
    assert window.status.fields["frame"].text() == "Frame 2/2"
    assert not np.array_equal(viewport.display_array(), first)



def test_preview_panels_follow_the_shown_frame(qtbot, window, tmp_path):
    from dicom_factory import write_dicom

    # Each frame is a different ramp, so the panels' source tells which frame it came from.
    ramp = np.tile(np.arange(64, dtype=np.uint16), (64, 1))
    frames = np.stack([ramp * 10, ramp[::-1, ::-1] * 10, ramp.T * 10])
    path = write_dicom(tmp_path / "cine.dcm", frames)
    window.docks["preprocessing"].show()
    _open(qtbot, window, [path])
    viewport, panel = window.grid.active, window.preprocessing

    def source_looks_like(frame: np.ndarray) -> bool:
        if panel.source is None:
            return False
        got = panel.source if panel.source.ndim == 2 else panel.source[..., 0]
        return np.corrcoef(got.ravel(), frame.astype(float).ravel())[0, 1] > 0.99

    qtbot.waitUntil(lambda: source_looks_like(frames[0]), timeout=TIMEOUT)
    for index in (1, 2):
        window.frame_slider.setValue(index)
        qtbot.waitUntil(lambda: viewport.frame_index == index, timeout=TIMEOUT)
        qtbot.waitUntil(lambda: source_looks_like(frames[index]), timeout=TIMEOUT)
    assert not source_looks_like(frames[0])


def test_dragged_frame_slider_prepares_only_the_latest_frame(qtbot, window, tmp_path, monkeypatch):
    from dicom_factory import write_dicom

    from medvision_app.gui import image_viewport

    frames = np.stack([np.full((32, 32), 100 * i, np.uint16) for i in range(20)])
    path = write_dicom(tmp_path / "cine.dcm", frames)
    _open(qtbot, window, [path])
    viewport = window.grid.active
    prepared = []
    real = image_viewport.prepare_frame

    def counting(image, index, **kwargs):
        prepared.append(index)
        return real(image, index, **kwargs)

    monkeypatch.setattr(image_viewport, "prepare_frame", counting)
    for index in range(1, 20):  # one drag across the slider, faster than frames decode
        window.frame_slider.setValue(index)
    qtbot.waitUntil(lambda: viewport.frame_index == 19 and not viewport._frame_busy, timeout=5000)
    assert prepared[0] == 1 and prepared[-1] == 19 and len(prepared) < 19


def test_theme_switch_is_remembered(qtbot, window):
    from PySide6.QtWidgets import QApplication

    window.set_theme("light")
    try:
        assert "#f3f4f6" in QApplication.instance().styleSheet()
        fresh = QSettings(window.settings.fileName(), QSettings.Format.IniFormat)
        assert fresh.value("theme") == "light"
    finally:
        window.set_theme("dark")
    assert "#1b1d21" in QApplication.instance().styleSheet()
