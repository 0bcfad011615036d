"""Where the reports and the dashboard are reached in the workstation: File > Open Run..., the
dashboard's gallery opening the viewer, and the AI panel's Export report..."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from pypdf import PdfReader  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QDialog  # noqa: E402

from medvision_app.gui.case_report_export import CaseReportDialog  # noqa: E402
from medvision_app.gui.main_window import MainWindow  # noqa: E402
from medvision_app.gui.workers import running_workers  # noqa: E402
from tests.report_support import make_run  # noqa: E402

TIMEOUT = 60_000


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDVISION_DEVICE", "cpu")
    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.ai.cancel()
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)


def test_open_run_shows_the_dashboard_and_its_gallery_opens_the_viewer(window, qtbot, tmp_path, monkeypatch):
    texts = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert "Open Run…" in texts
    run = make_run(tmp_path / "run")
    opened = []
    monkeypatch.setattr(window, "open_paths", lambda paths: opened.append(list(paths)))
    dashboard = window.open_run(run)
    qtbot.addWidget(dashboard)
    qtbot.waitUntil(lambda: dashboard.analysis is not None, timeout=TIMEOUT)
    sample = tmp_path / "sample.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(sample)
    dashboard.openImageRequested.emit(sample)
    assert opened == [[sample]]
    assert "export the run" in dashboard.status.text()
    # with the run's exported model chosen in the AI panel, the image is analysed there: its heatmap shows
    import shutil

    from medvision_app.inference.registry import SHIPPED_DIR

    shutil.copy(SHIPPED_DIR / "breastmnist.onnx", run / "model.onnx")
    qtbot.waitUntil(lambda: window.ai.selected_entry() is not None, timeout=TIMEOUT)
    assert window.ai.select_model("breastmnist")
    analysed = []
    monkeypatch.setattr(window.ai, "analyse", lambda paths: analysed.append(list(paths)))
    dashboard.openImageRequested.emit(sample)
    assert analysed == [[sample]] and "heatmap" in dashboard.status.text()
    assert window.open_run(tmp_path / "not-a-run") is None  # a notification, not an exception


def test_ai_panel_exports_a_deidentified_case_report(window, qtbot, tmp_path, monkeypatch):
    qtbot.waitUntil(lambda: window.ai.selected_entry() is not None, timeout=TIMEOUT)
    assert window.ai.select_model("breastmnist")
    png = tmp_path / "case" / "lesion.png"
    png.parent.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((64, 64)) * 255).astype(np.uint8)).save(png)
    with qtbot.waitSignal(window.ai.analysisFinished, timeout=TIMEOUT):
        window.ai.analyse([png])
    out = tmp_path / "report.pdf"

    def accept(dialog):
        dialog.path_edit.setText(str(out))
        dialog.deidentify_box.setChecked(True)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(CaseReportDialog, "exec", accept)
    window.ai.report_button.click()
    qtbot.waitUntil(lambda: "Case report written" in window.ai.exam_label.text(), timeout=TIMEOUT)
    text = " ".join(p.extract_text() for p in PdfReader(str(out)).pages)
    assert "Patient identity removed" in text and "lesion.png" not in text and "Image 1" in text
    assert Path(out).stat().st_size > 1000
