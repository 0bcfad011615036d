"""Re-take the README screenshots under a real X server (Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/take_screenshots.py

Needs ImageMagick's ``import`` and the CBIS-DDSM four-view study in
``../shared/data/cbis-ddsm-P_00173``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CBIS = ROOT.parent / "shared" / "data" / "cbis-ddsm-P_00173"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QSettings, QTimer

    from medvision_app.gui import decoder
    from medvision_app.gui.app import create_app
    from medvision_app.gui.main_window import MainWindow
    from medvision_app.gui.theme import apply_theme
    from medvision_app.gui.workers import running_workers

    app = create_app(["medvision"])
    apply_theme(app, "dark")
    decoder.warm_up()
    tmp = tempfile.mkdtemp()
    window = MainWindow(QSettings(f"{tmp}/s.ini", QSettings.Format.IniFormat))
    window.setGeometry(0, 0, 1600, 1000)
    window.show()
    window.open_paths([CBIS])

    def shoot(name: str, widget=None) -> None:
        app.processEvents()
        args = ["import", "-window", "root"]
        if widget is not None:
            g = widget.frameGeometry()
            args += ["-crop", f"{g.width()}x{g.height()}+{g.x()}+{g.y()}"]
        subprocess.run(args + [str(HERE / name)], check=True)
        print("wrote", HERE / name)

    steps = []

    def settled() -> bool:
        return (not window.grid.is_loading() and not window.browser.is_scanning()
                and window.browser.pending_thumbnails() == 0 and running_workers() == 0
                and not window.preprocessing.engine.busy() and not window.augmentation.engine.busy())

    def step() -> None:
        if not settled():
            return
        if not steps:
            steps.append("main")
            shoot("main-window-four-view.png")
            dock = window.docks["preprocessing"]
            dock.setFloating(True)
            dock.setGeometry(100, 40, 1000, 940)
            window.preprocessing.add_step("clahe")
            window.preprocessing.set_param(1, "clip_limit", 0.02)
        elif len(steps) == 1:
            steps.append("pre")
            shoot("preprocessing-panel.png", window.docks["preprocessing"])
            window.docks["preprocessing"].setFloating(False)
            dock = window.docks["augmentation"]
            dock.setFloating(True)
            dock.setGeometry(100, 40, 900, 940)
            dock.show()
            dock.raise_()
            window.augmentation.reroll()
        elif len(steps) == 2:
            steps.append("aug")
            shoot("augmentation-panel.png", window.docks["augmentation"])
            app.quit()

    timer = QTimer()
    timer.timeout.connect(lambda: QTimer.singleShot(1500, step) if settled() else None)
    timer.start(2000)
    QTimer.singleShot(120000, app.quit)
    app.exec()
    decoder.shutdown()
    return 0 if len(steps) == 3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
