"""Re-take the training screenshots under Xvfb: the wizard's data page, a training job and a search in the monitor.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/take_job_screenshots.py

Needs ImageMagick's ``import`` and ``../shared/data`` (BUSI for the wizard,
BreastMNIST for the jobs). The jobs are real but small (a minute or two on
two cores); the history goes to a temporary MEDVISION_HOME.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = Path(os.environ.get("MEDVISION_SHARED", ROOT.parent / "shared")) / "data"


def _spin(app, condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def _shot(app, name: str) -> None:
    _spin(app, lambda: False, 1.0)
    subprocess.run(["import", "-window", "root", str(HERE / name)], check=True)
    print("wrote", HERE / name)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp())
    os.environ["MEDVISION_HOME"] = str(tmp / "home")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from PySide6.QtCore import QSettings, Qt

    from medvision_app.gui.app import create_app
    from medvision_app.gui.jobs_integration import open_wizard
    from medvision_app.gui.main_window import MainWindow
    from medvision_app.gui.theme import apply_theme
    from medvision_app.jobs import JobSpec
    from medvision_app.jobs.presets import preset

    app = create_app(["medvision"])
    apply_theme(app, "dark")
    window = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    window.ask_about_running_jobs = lambda n: "stop"
    window.resize(1600, 1000)
    window.move(0, 0)
    window.show()
    _spin(app, lambda: False, 1.0)

    # 1. the wizard's data page on BUSI: three classes, counts, thumbnails, the split
    wizard = open_wizard(window, wait=True)
    wizard.task_page.apply_preset("pnet")
    wizard.resize(1100, 760)
    wizard.move(250, 120)
    wizard.next()
    page = wizard.data_page
    page.path.setText(str(DATA / "busi-256"))
    _spin(app, lambda: page.result is not None, 300)
    _shot(app, "training-wizard.png")
    wizard.reject()

    # 2. a training job with live curves: P-NET on BreastMNIST, shot mid-run
    monitor = window.job_monitor
    window.docks["jobs"].show()
    window.docks["jobs"].raise_()
    window.resizeDocks([window.docks["jobs"]], [620], Qt.Orientation.Vertical)
    config = preset("pnet").config()
    config["data"] = {"path": str(DATA / "breastmnist" / "breastmnist.npz")}
    config["model"].update(input_size=28, in_channels=1, dense_units=64)
    config["train"].update(epochs=30, cpu_threads=1, progress_every=2, device="cpu")
    config["augmentation"] = {}
    config["preprocessing"] = {"steps": []}
    job = monitor.submit(JobSpec("train", config, str(tmp / "runs" / "pnet-breastmnist"), name="pnet-breastmnist"))
    _spin(app, lambda: monitor._track(job).val_loss.n >= 8 or job not in monitor.sources, 900)
    monitor.select(job)
    _shot(app, "job-monitor.png")
    monitor.cancel_selected()
    _spin(app, lambda: job not in monitor.sources, 120)

    # 3. a search: SE-BbNAS on BreastMNIST, a few small candidates, then the table and the Pareto front
    search_cfg = preset("se-bbnas").config()
    search_cfg.update(data=str(DATA / "breastmnist" / "breastmnist.npz"), children_per_iteration=4, max_iterations=2,
                      train_limit=200, val_limit=78, device="cpu")
    search_cfg["candidate"].update(max_epochs=2, patience=1)
    search_cfg["final"].update(epochs=2, patience=1)
    search = monitor.submit(JobSpec("search", search_cfg, str(tmp / "searches" / "se-bbnas"), name="se-bbnas-breastmnist"))
    monitor.select(search)
    _spin(app, lambda: monitor.history.get(search).status in ("done", "failed"), 1500)
    _spin(app, lambda: search not in monitor.sources, 60)
    monitor.select(search)
    _shot(app, "search-monitor.png")
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
