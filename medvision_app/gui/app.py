"""Start the workstation: QApplication, theme, main window, the paths to open."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication


def create_app(argv: Optional[Sequence[str]] = None) -> QApplication:
    app = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    app.setOrganizationName("MedVision")
    app.setApplicationName("MedVision")
    app.setStyle("Fusion")
    return app


def run(paths: Sequence[Path] = (), *, sample: bool = False, settings: Optional[QSettings] = None) -> int:
    """Show the main window, open ``paths`` (or the sample study) and run the event loop."""
    from medvision_app.gui.main_window import MainWindow
    from medvision_app.gui.theme import apply_theme

    from medvision_app.gui import decoder

    app = create_app()
    decoder.warm_up()
    app.aboutToQuit.connect(decoder.shutdown)
    settings = settings or QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "MedVision", "MedVision")
    theme = settings.value("theme", "dark")
    apply_theme(app, theme if theme in ("dark", "light") else "dark")
    window = MainWindow(settings)
    window.show()
    if paths:
        window.open_paths(list(paths))
    elif sample:
        window.open_sample()
    if os.environ.get("MEDVISION_GUI_SMOKE"):
        # CI smoke test: start, open, then leave after the given milliseconds.
        from PySide6.QtCore import QTimer

        QTimer.singleShot(int(os.environ["MEDVISION_GUI_SMOKE"]), app.quit)
    return app.exec()
