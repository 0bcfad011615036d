"""Start the workstation: QApplication, theme, main window, the paths to open."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)


def create_app(argv: Optional[Sequence[str]] = None) -> QApplication:
    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName("MedVision")
    app.setApplicationName("MedVision")
    app.setStyle("Fusion")
    return app


def run(paths: Sequence[Path] = (), *, sample: bool = False, settings: Optional[QSettings] = None) -> int:
    """Show the main window, open ``paths`` (or the sample study) and run the event loop."""
    from medvision_app.gui import decoder
    from medvision_app.gui.main_window import MainWindow
    from medvision_app.gui.theme import apply_theme

    app = create_app()
    decoder.warm_up()
    app.aboutToQuit.connect(decoder.shutdown)
    settings = settings or QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "MedVision", "MedVision")
    theme = settings.value("theme", "dark")
    apply_theme(app, theme if theme in ("dark", "light") else "dark")
    window = MainWindow(settings)
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
    return app.exec()


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
            window.grid.allShown.disconnect(leave)
            window.browser.scanFailed.disconnect(leave)
        timer.stop()
        app.exit(0)

    timer = QTimer(window)
    timer.setSingleShot(True)
    timer.timeout.connect(lambda: leave(reason=f"limit of {limit_ms} ms reached" if opening else "nothing to open"))
    if opening:
        window.grid.allShown.connect(leave)
        window.browser.scanFailed.connect(leave)  # the failure is on screen, as a notification
    timer.start(limit_ms if opening else 0)
