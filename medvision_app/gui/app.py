"""Start the workstation: QApplication, theme, main window, the paths to open."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from medvision_app.gui.gc_guard import collect_on_gui_thread
from medvision_app.utils.logfile import install_log_file

log = logging.getLogger(__name__)


def create_app(argv: Optional[Sequence[str]] = None) -> QApplication:
    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName("MedVision")
    app.setApplicationName("MedVision")
    app.setStyle("Fusion")
    collect_on_gui_thread(app)
    return app


def run(paths: Sequence[Path] = (), *, sample: bool = False, settings: Optional[QSettings] = None) -> int:
    """Show the main window, open ``paths`` (or the sample study) and run the event loop."""
    from medvision_app.gui import decoder
    from medvision_app.gui.capabilities import apply_capabilities
    from medvision_app.gui.error_reporting import install_excepthook
    from medvision_app.gui.main_window import MainWindow
    from medvision_app.gui.theme import apply_theme

    app = create_app()
    install_log_file()
    decoder.warm_up()
    settings = settings or QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "MedVision", "MedVision")
    theme = settings.value("theme", "dark")
    apply_theme(app, theme if theme in ("dark", "light") else "dark")
    window = MainWindow(settings)
    apply_capabilities(window)  # a reader build has no torch: training is offered only where it can run
    install_excepthook(window.errors)
    window.show()
    # a run or search folder opens the evaluation dashboard; anything else the viewer
    from medvision_app.evaluation.run_folder import is_run_folder, is_search_folder

    runs = [p for p in paths if is_run_folder(p) or is_search_folder(p)]
    for folder in runs:
        window.open_run(folder)
    paths = [p for p in paths if p not in runs]
    if paths:
        window.open_paths(list(paths))
    elif sample:
        window.open_sample()
    smoke = os.environ.get("MEDVISION_GUI_SMOKE")
    if smoke:
        _leave_when_shown(app, window, int(smoke), opening=bool(paths) or sample)
    code = app.exec()
    finish_jobs()
    return code


def finish_jobs(timeout: float = 15.0) -> list[str]:
    """After the event loop: cancel the jobs, wait for them, then stop the decoder helpers.

    In this order: a job still decoding needs its helper, and a job still
    running when the interpreter finalizes is stopped dead in its pool thread,
    which then never reports done and the thread pool's destructor waits for
    it for ever (smoke runs under load hung that way past 90 s).
    """
    from medvision_app.gui import decoder, workers

    left = workers.shutdown(timeout)
    decoder.shutdown(wait=not left)  # idle helpers leave now, not in the interpreter's exit
    return left


def _leave_when_shown(app: QApplication, window, limit_ms: int, *, opening: bool) -> None:
    """Smoke runs (CI): leave the event loop once what was asked for is on screen, or after ``limit_ms``.

    A fixed delay raced the study it was meant to show. ``exit``, not
    ``quit``: Qt 6's quit closes every window, closing the last one posts a
    second quit that lands after ``exec`` has returned, and from then on
    every event loop in the process returns at once (a test that goes on
    using the application would wait forever for its workers' signals).
    """
    from PySide6.QtCore import QTimer

    def leave(*_args, reason: str = "on screen") -> None:
        # Once only: the window outlives the event loop in tests, and a later
        # allShown must not end whatever event loop runs then.
        log.info("smoke run: leaving, %s", reason)
        if opening:
            window.grid.allShown.disconnect(shown)
            window.browser.scanFailed.disconnect(leave)
            window.grid.imageShown.disconnect(first_image)
        timer.stop()
        times["left"] = time.time()
        times["reason"] = reason
        _write_smoke_report(times)
        app.exit(0)

    def first_image(_path) -> None:
        times.setdefault("first_image", time.time())

    def shown(*_args) -> None:
        if not os.environ.get("MEDVISION_GUI_SMOKE_PREDICT"):
            return leave()
        # the package test: the study on screen, then one prediction through the AI panel
        from medvision_app.gui.smoke_predict import predict_then

        if "all_shown" not in times:
            times["all_shown"] = time.time()
            predict_then(window, lambda summary: (times.update(summary), leave(reason="predicted")))

    times: dict = {"window_shown": time.time()}

    timer = QTimer(window)
    timer.setSingleShot(True)
    timer.timeout.connect(lambda: leave(reason=f"limit of {limit_ms} ms reached" if opening else "nothing to open"))
    if opening:
        window.browser.scanFinished.connect(lambda _index: times.setdefault("scanned", time.time()))
        window.grid.imageShown.connect(first_image)
        window.grid.allShown.connect(shown)
        window.browser.scanFailed.connect(leave)  # the failure is on screen, as a notification
    timer.start(limit_ms if opening else 0)


def _write_smoke_report(times: dict) -> None:
    """``MEDVISION_GUI_SMOKE_REPORT=FILE``: when the first image and the whole study were on screen (epoch seconds).

    The start-up benchmark reads it: the time from launching the command to
    the first image is the figure a new user feels.
    """
    target = os.environ.get("MEDVISION_GUI_SMOKE_REPORT")
    if target:
        import json

        Path(target).write_text(json.dumps(times))
