"""Cancelling ends every job: the worker forwards ``aborted``, and each of its users leaves its busy state.

A cancelled folder scan used to leave "Scanning…" on screen for ever, because
the worker emitted ``aborted`` and nobody listened.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402

from medvision_app.events import Cancelled, Progress  # noqa: E402
from medvision_app.gui.workers import running_workers, start_worker  # noqa: E402

TIMEOUT = 30000


def _record(qtbot, func, *args, cancel_after_start: bool = False, **kwargs):
    seen: list = []
    worker = start_worker(
        func, *args,
        on_returned=lambda v: seen.append(("returned", v)), on_errored=lambda e: seen.append(("errored", e)),
        on_aborted=lambda: seen.append(("aborted",)), on_yielded=lambda v: seen.append(("yielded", v)),
        on_finished=lambda: seen.append(("finished",)), **kwargs,
    )
    if cancel_after_start:
        worker.cancel()
    qtbot.waitUntil(lambda: bool(seen) and seen[-1] == ("finished",), timeout=TIMEOUT)
    return [s[0] for s in seen], seen


def test_a_cancelled_generator_ends_aborted_not_returned(qtbot):
    started = threading.Event()

    def endless():
        started.set()
        while True:
            time.sleep(0.005)
            yield 1

    seen: list = []
    worker = start_worker(endless, on_returned=lambda v: seen.append("returned"), on_aborted=lambda: seen.append("aborted"),
                          on_finished=lambda: seen.append("finished"))
    assert started.wait(10)
    worker.cancel()
    qtbot.waitUntil(lambda: "finished" in seen, timeout=TIMEOUT)
    assert seen == ["aborted", "finished"]
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)


def test_a_job_raising_cancelled_ends_aborted(qtbot):
    def job():
        raise Cancelled()

    kinds, _ = _record(qtbot, job)
    assert kinds == ["aborted", "finished"]


def test_a_job_cancelled_while_it_ran_does_not_deliver_its_result(qtbot):
    gate = threading.Event()

    def job():
        gate.wait(10)
        return 42

    seen: list = []
    worker = start_worker(job, on_returned=seen.append, on_aborted=lambda: seen.append("aborted"),
                          on_finished=lambda: seen.append("finished"))
    worker.cancel()
    gate.set()
    qtbot.waitUntil(lambda: "finished" in seen, timeout=TIMEOUT)
    assert seen == ["aborted", "finished"]


def test_a_failing_job_keeps_its_traceback(qtbot):
    def job():
        raise ValueError("boom")

    kinds, seen = _record(qtbot, job)
    assert kinds == ["errored", "finished"]
    exc = seen[0][1]
    assert isinstance(exc, ValueError) and exc.__traceback__ is not None


def test_callbacks_of_a_deleted_owner_are_not_called(qtbot):
    from PySide6.QtWidgets import QWidget

    owner = QWidget()
    gate = threading.Event()
    seen: list = []
    start_worker(lambda: gate.wait(10), on_returned=seen.append, on_finished=lambda: seen.append("finished"),
                 owner=owner)
    owner.deleteLater()
    qtbot.wait(50)
    gate.set()
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)
    assert seen == []


# -- the users of workers ---------------------------------------------------------------------------

def _slow_index(started: threading.Event):
    def index_files(paths, *, emit=None, cancel=None):
        started.set()
        for k in range(10_000):
            cancel.raise_if_cancelled()
            emit(Progress(k, 10_000, "file"))
            time.sleep(0.005)
        raise AssertionError("the scan was not cancelled")
    return index_files


def test_cancelling_a_folder_scan_clears_scanning(qtbot, monkeypatch, tmp_path):
    import medvision_app.gui.study_browser as study_browser

    started = threading.Event()
    monkeypatch.setattr(study_browser, "index_files", _slow_index(started))
    browser = study_browser.StudyBrowser()
    qtbot.addWidget(browser)
    browser.show()
    browser.scan([tmp_path])
    assert started.wait(10)
    qtbot.waitUntil(lambda: browser.progress_label.text().startswith("Scanning"), timeout=TIMEOUT)
    with qtbot.waitSignal(browser.scanCancelled, timeout=TIMEOUT):
        browser.cancel_button.click()
    assert not browser.is_scanning()
    assert browser.progress_label.text() == "Scan cancelled"
    assert not browser.progress.isVisible() and not browser.cancel_button.isVisible()
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)


def test_a_scan_replaced_by_a_new_one_leaves_the_new_one_in_charge(qtbot, monkeypatch, tmp_path):
    import medvision_app.gui.study_browser as study_browser

    started = threading.Event()
    monkeypatch.setattr(study_browser, "index_files", _slow_index(started))
    browser = study_browser.StudyBrowser()
    qtbot.addWidget(browser)
    browser.scan([tmp_path])
    assert started.wait(10)
    started.clear()
    browser.scan([tmp_path])  # cancels the first; its abort must not end the second's progress
    assert started.wait(10)
    qtbot.wait(200)
    assert browser.is_scanning() and browser.cancel_button.isVisibleTo(browser)
    browser.cancel_scan()
    qtbot.waitUntil(lambda: not browser.is_scanning(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)


def test_closing_the_window_cancels_its_scan(qtbot, monkeypatch, tmp_path):
    import medvision_app.gui.study_browser as study_browser
    from medvision_app.gui.main_window import MainWindow

    started = threading.Event()
    monkeypatch.setattr(study_browser, "index_files", _slow_index(started))
    window = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    window.open_paths([tmp_path])
    assert started.wait(10)
    window.close()
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)
    assert not window.browser.is_scanning()


def test_a_cancelled_image_load_leaves_the_grid_not_loading(qtbot, monkeypatch, tmp_path):
    import medvision_app.gui.viewer_grid as viewer_grid
    from medvision_app.imaging import ImageMetadata

    def cancelled_load(path, *args, **kwargs):
        raise Cancelled()

    monkeypatch.setattr(viewer_grid, "load_for_view", cancelled_load)
    grid = viewer_grid.ViewerGrid()
    qtbot.addWidget(grid)
    failures: list = []
    grid.loadFailed.connect(lambda path, exc: failures.append(path))
    with qtbot.waitSignal(grid.allShown, timeout=TIMEOUT):
        grid.open_items([(ImageMetadata(), tmp_path / "a.dcm")])
    assert not grid.is_loading() and failures == []  # cancelled is not failed: no error notification


def test_a_cancelled_frame_preparation_frees_the_viewport(qtbot, monkeypatch):
    import numpy as np

    import medvision_app.gui.image_viewport as image_viewport
    from medvision_app.imaging import MedicalImage
    from medvision_app.imaging.viewing import prepare_frame

    frames = np.random.default_rng(0).integers(0, 4000, (3, 32, 32), dtype=np.uint16)
    image = MedicalImage(path=Path("cine.dcm"), frames=frames, photometric="MONOCHROME2", format="dicom", bits_stored=12)
    viewport = image_viewport.ImageViewport()
    qtbot.addWidget(viewport)
    viewport.set_prepared(image, prepare_frame(image, 0))
    calls: list = []

    def cancelled(*args, **kwargs):
        calls.append(args[1])
        raise Cancelled()

    monkeypatch.setattr(image_viewport, "prepare_frame", cancelled)
    viewport.set_frame(1)
    qtbot.waitUntil(lambda: not viewport._frame_busy, timeout=TIMEOUT)
    viewport.set_frame(2)  # a busy flag left set would swallow this request
    qtbot.waitUntil(lambda: calls == [1, 2] and not viewport._frame_busy, timeout=TIMEOUT)


def test_a_cancelled_preview_leaves_the_engine_idle(qtbot):
    from medvision_app.gui.preview_engine import PreviewEngine

    def job():
        raise Cancelled()

    engine = PreviewEngine()
    with qtbot.waitSignal(engine.idle, timeout=TIMEOUT):
        engine.request("tag", job)
    assert not engine.busy()
    results: list = []
    engine.resultReady.connect(lambda tag, value: results.append(value))
    engine.request("tag", lambda: 7)  # and it takes the next request
    qtbot.waitUntil(lambda: results == [7], timeout=TIMEOUT)


def test_a_cancelled_panel_computation_lets_the_panels_ask_again(qtbot, monkeypatch, tmp_path):
    import numpy as np

    import medvision_app.gui.main_window as main_window
    from medvision_app.imaging import MedicalImage
    from medvision_app.imaging.viewing import prepare_frame

    calls: list = []

    def cancelled(image, index):
        calls.append(index)
        raise Cancelled()

    monkeypatch.setattr(main_window, "_panel_inputs", cancelled)
    window = main_window.MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    frames = np.random.default_rng(0).integers(0, 4000, (2, 32, 32), dtype=np.uint16)
    image = MedicalImage(path=Path("cine.dcm"), frames=frames, photometric="MONOCHROME2", format="dicom", bits_stored=12)
    window.grid.active.set_prepared(image, prepare_frame(image, 0))
    qtbot.waitUntil(lambda: calls == [0] and not window._panel_busy, timeout=TIMEOUT)
    window.grid.active.set_prepared(image, prepare_frame(image, 1))  # a new frame: asked again, not stuck busy
    qtbot.waitUntil(lambda: calls == [0, 1] and not window._panel_busy, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)
