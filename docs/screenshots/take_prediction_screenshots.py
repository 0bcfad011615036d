"""Re-take the AI panel screenshots under a real X server (Xvfb).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/take_prediction_screenshots.py

``prediction-panel.png``: a BUSI ultrasound sample analysed with the shipped
model, heatmap on, probabilities in the panel. ``prediction-four-view.png``:
the CBIS-DDSM four-view study analysed with the same (ultrasound) model under
the research override, so each view shows its status and score. Needs
ImageMagick's ``import`` and ``../shared/data/cbis-ddsm-P_00173``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CBIS = ROOT.parent / "shared" / "data" / "cbis-ddsm-P_00173"
ULTRASOUND = ROOT / "resources" / "samples" / "busi" / "malignant-3.png"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ["MEDVISION_HOME"] = tempfile.mkdtemp()  # no cached results from earlier runs
    from PySide6.QtCore import QSettings, Qt, QTimer

    from medvision_app.gui import decoder
    from medvision_app.gui.app import create_app
    from medvision_app.gui.main_window import MainWindow
    from medvision_app.gui.theme import apply_theme
    from medvision_app.gui.workers import running_workers

    app = create_app(["medvision"])
    apply_theme(app, "dark")
    decoder.warm_up()
    window = MainWindow(QSettings(f"{os.environ['MEDVISION_HOME']}/s.ini", QSettings.Format.IniFormat))
    window.setGeometry(0, 0, 1600, 1000)
    window.show()
    panel = window.ai
    dock = window.docks["ai"]

    def shoot(name: str) -> None:
        app.processEvents()
        subprocess.run(["import", "-window", "root", str(HERE / name)], check=True)
        print("wrote", HERE / name)

    steps: list[str] = []

    def settled() -> bool:
        return (not window.grid.is_loading() and not window.browser.is_scanning() and running_workers() == 0
                and not panel.busy and panel.selected_entry() is not None)

    def step() -> None:
        if not settled():
            return
        if not steps:
            steps.append("open")
            window.docks["histogram"].hide()  # the panel's full height for the picture
            dock.show()
            dock.raise_()
            window.resizeDocks([dock], [560], Qt.Orientation.Horizontal)
            panel.select_model("breastmnist")
            window.open_paths([ULTRASOUND])
        elif len(steps) == 1:
            steps.append("analyse")
            panel.analyse_image()
        elif len(steps) == 2:
            steps.append("panel")
            shoot("prediction-panel.png")
            window.open_paths([CBIS])
        elif len(steps) == 3:
            steps.append("four-view")
            panel.override_box.setChecked(True)
            panel.analyse_study()
        elif len(steps) == 4:
            steps.append("shot")
            shoot("prediction-four-view.png")
            app.quit()

    timer = QTimer()
    timer.timeout.connect(lambda: QTimer.singleShot(800, step) if settled() else None)
    timer.start(1500)
    QTimer.singleShot(180000, app.quit)
    app.exec()
    decoder.shutdown()
    return 0 if len(steps) == 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
