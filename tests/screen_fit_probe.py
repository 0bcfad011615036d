"""Run the main window on a virtual screen and report what does not fit (used by test_gui_screen_fit.py).

    QT_QPA_PLATFORM=offscreen:configfile=SCREENS.json python tests/screen_fit_probe.py SAMPLE_DIR SETTINGS.ini

The offscreen platform takes its screens from the JSON file, so a 1366x768
laptop screen can be tried on any machine. Prints one JSON object: the
window's geometry and a list of problems (empty when everything fits).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _inside(inner, outer) -> bool:
    return outer.contains(inner.topLeft()) and outer.contains(inner.bottomRight())


def _rect_in(widget, ancestor):
    """``widget``'s rectangle in ``ancestor``'s coordinates."""
    from PySide6.QtCore import QRect

    top_left = widget.mapTo(ancestor, widget.rect().topLeft())
    return QRect(top_left, widget.size())


def check_window(window) -> list[str]:
    """Everything the user needs on screen: the window, docks, status bar and the viewports' overlays."""
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QScrollArea

    problems = []
    screens = [s.availableGeometry() for s in QGuiApplication.screens()]
    frame = window.frameGeometry()
    if not any(_inside(frame, s) for s in screens):
        problems.append(f"window frame {frame.getRect()} is not inside a screen {[s.getRect() for s in screens]}")
    area = window.rect()
    status = window.statusBar()
    if not status.isVisible() or not _inside(_rect_in(status, window), area) or status.height() < 10:
        problems.append(f"status bar not fully visible: {_rect_in(status, window).getRect()} in {area.getRect()}")
    for name, dock in window.docks.items():
        if dock.visibleRegion().isEmpty():
            continue  # a tab behind another one
        rect = _rect_in(dock, window)
        if not _inside(rect, area):
            problems.append(f"dock {name} {rect.getRect()} runs off the window {area.getRect()}")
        content = dock.widget()
        if not isinstance(content, QScrollArea):
            problems.append(f"dock {name} does not scroll: a short screen would clip it")
        if content.width() < 150 or content.height() < 120:
            problems.append(f"dock {name} is squeezed to {content.width()}x{content.height()}")
    grid = _rect_in(window.grid, window)
    if not _inside(grid, area) or grid.width() < 400 or grid.height() < 400:
        problems.append(f"viewer grid {grid.getRect()} is cut or too small")
    for k, viewport in enumerate(window.grid.viewports):
        if viewport.image is None or not viewport.isVisible():
            continue
        view = viewport.view.rect()
        for corner, label in viewport._labels.items():
            if label.text() and not _inside(label.geometry(), view):
                problems.append(f"viewport {k} overlay {corner} {label.geometry().getRect()} outside {view.getRect()}")
    return problems


def main(sample: Path, settings_path: Path) -> int:
    from PySide6.QtCore import QEventLoop, QRect, QSettings, QTimer

    from medvision_app.gui import decoder
    from medvision_app.gui.app import create_app
    from medvision_app.gui.main_window import MainWindow
    from medvision_app.gui.theme import apply_theme

    app = create_app(["probe"])
    apply_theme(app, "dark")
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.show()
    window.open_paths([sample])
    loop = QEventLoop()
    window.grid.allShown.connect(loop.quit)
    QTimer.singleShot(60000, loop.quit)
    loop.exec()
    for _ in range(10):
        app.processEvents()
    report = {"frame": window.frameGeometry().getRect(), "shown": window.grid.hanging is not None,
              "problems": check_window(window)}
    # A geometry saved on a monitor that is gone now (far right of this screen) and larger than this screen.
    window.setGeometry(QRect(3000, 200, 2400, 1500))
    window.close()
    settings.sync()
    again = MainWindow(QSettings(str(settings_path), QSettings.Format.IniFormat))
    again.show()
    for _ in range(10):
        app.processEvents()
    report["restored_frame"] = again.frameGeometry().getRect()
    report["restored_problems"] = check_window(again)
    again.close()
    decoder.shutdown()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2])))
