"""Walk the training wizard's pages on a virtual screen and report where it stands (used by test_gui_screen_fit.py).

    QT_QPA_PLATFORM=offscreen:configfile=SCREENS.json python tests/wizard_fit_probe.py DATA_FOLDER

Prints one JSON list: per page, the wizard's frame, where its Next (or
Launch) button ends, and the screen's available geometry.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def _spin(app, condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def main(data: str) -> int:
    tmp = Path(tempfile.mkdtemp())
    os.environ["MEDVISION_HOME"] = str(tmp / "home")
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QWizard

    from medvision_app.gui.app import create_app
    from medvision_app.gui.jobs_integration import open_wizard
    from medvision_app.gui.main_window import MainWindow

    app = create_app(["medvision"])
    window = MainWindow(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    window.show()
    wizard = open_wizard(window, wait=True)
    wizard.task_page.apply_preset("pnet")
    available = QGuiApplication.primaryScreen().availableGeometry()
    pages = []

    def record(name: str) -> None:
        _spin(app, lambda: False, 0.5)
        last = wizard.currentId() == wizard.pageIds()[-1]
        button = wizard.button(QWizard.WizardButton.FinishButton if last else QWizard.WizardButton.NextButton)
        corner = button.mapToGlobal(button.rect().bottomRight())
        pages.append({"page": name, "frame": list(wizard.frameGeometry().getRect()),
                      "button_bottom_right": [corner.x(), corner.y()], "available": list(available.getRect())})

    record("task")
    wizard.next()
    wizard.data_page.path.setText(data)
    _spin(app, lambda: wizard.data_page.result is not None, 120)
    for name in ("data", "preprocessing", "model", "summary"):
        record(name)
        if name != "summary":
            wizard.next()
    print(json.dumps(pages))
    wizard.reject()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
