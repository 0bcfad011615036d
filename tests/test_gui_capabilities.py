"""The workstation offers only what the install can do: no torch, no training; no ONNX runtime, no AI panel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from medvision_app import extras
from medvision_app.gui.capabilities import TRAINING_BUTTONS, apply_capabilities
from medvision_app.gui.main_window import MainWindow
from medvision_app.gui.workers import running_workers


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))

    def make(missing: set[str]) -> MainWindow:
        monkeypatch.setattr(extras, "available", lambda name: name not in missing)
        window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        qtbot.addWidget(window)
        return window

    yield make
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=60000)  # the model list loads in a worker


def test_without_torch_training_is_disabled_and_says_why(make_window):
    window = make_window({"train"})
    shown = apply_capabilities(window)
    assert len(shown) == 1 and "pip install medvision[train]" in shown[0]
    action = window.act_new_job
    assert not action.isEnabled()
    assert "needs the train extra" in action.text() and "pip install medvision[train]" in action.toolTip()
    for key in TRAINING_BUTTONS:
        assert window.job_monitor.buttons[key].isHidden()
    assert not window.job_monitor.buttons["cancel"].isHidden()  # a job started elsewhere can still be stopped
    assert window.ai.isEnabled()


def test_without_a_runtime_the_ai_panel_says_what_to_install(make_window):
    window = make_window({"runtime"})
    apply_capabilities(window)
    assert not window.ai.isEnabled()
    assert "medvision[cpu]" in window.ai.toolTip()
    assert window.act_new_job.isEnabled()


def test_a_full_install_keeps_everything(make_window):
    window = make_window(set())
    assert apply_capabilities(window) == []
    assert window.act_new_job.isEnabled() and window.ai.isEnabled()
    assert not any(window.job_monitor.buttons[key].isHidden() for key in TRAINING_BUTTONS)
