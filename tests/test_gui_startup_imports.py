"""Start-up without torch, torchvision or onnxruntime.

Importing the main window and opening and viewing images must not load them
(torch alone took 4 to 8 s to import here, and a new user waited for it before
the first image). They load on first use: the augmentation preview when it is
first shown, a prediction, a training job in its own process. Each check runs
in a fresh interpreter, since this test process may have imported them already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "onnxruntime")

CHILD = textwrap.dedent(
    """
    import json, sys, time

    HEAVY = ("torch", "torchvision", "onnxruntime")

    def heavy():
        return sorted(m for m in HEAVY if m in sys.modules)

    import medvision_app.gui.main_window as main_window
    report = {"after_import": heavy()}
    if sys.argv[1] == "view":
        from pathlib import Path
        from pydicom.data import get_testdata_file
        from PySide6.QtCore import QSettings
        from medvision_app.gui.app import create_app
        from medvision_app.gui.workers import running_workers

        app = create_app(["test"])
        window = main_window.MainWindow(QSettings(sys.argv[2], QSettings.Format.IniFormat))
        window.show()
        files = [Path(get_testdata_file(name, download=False)) for name in ("CT_small.dcm", "MR_small.dcm")]
        window.open_paths(files)
        end = time.monotonic() + 120
        def settled():
            return (window.grid.hanging is not None and not window.grid.is_loading()
                    and not window.browser.is_scanning() and window.browser.pending_thumbnails() == 0
                    and running_workers() == 0)
        while not settled() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)
        report["shown"] = sum(v.image is not None for v in window.grid.visible_viewports())
        report["preprocessing_visible"] = window.docks["preprocessing"].isVisible()
        report["after_view"] = heavy()
        if sys.argv[3] == "augmentation":
            window.docks["augmentation"].show()
            window.docks["augmentation"].raise_()
            end = time.monotonic() + 120
            while window.augmentation.grid.images()[0] is None and time.monotonic() < end:
                app.processEvents()
                time.sleep(0.005)
            report["variants"] = sum(v is not None for v in window.augmentation.grid.images())
            report["after_augmentation"] = heavy()
    print("REPORT " + json.dumps(report), flush=True)
    """
)


def _run(tmp_path: Path, *args: str) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT), MEDVISION_HOME=str(tmp_path / "home"))
    # -c, not a script file: the decoder's spawned helpers would run a script's body again
    done = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=env, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("REPORT "):])


def test_importing_the_main_window_loads_no_torch_or_onnxruntime(tmp_path):
    assert _run(tmp_path, "import")["after_import"] == []


@pytest.mark.slow
def test_opening_and_viewing_images_loads_none_until_the_augmentation_preview_is_shown(tmp_path):
    report = _run(tmp_path, "view", str(tmp_path / "settings.ini"), "augmentation")
    assert report["shown"] >= 1 and report["preprocessing_visible"], report
    assert report["after_view"] == [], f"viewing images imported {report['after_view']}"
    # first shown, the augmentation preview draws its variants and only then needs torch
    assert report["variants"] == 9, report
    assert "torch" in report["after_augmentation"], report
