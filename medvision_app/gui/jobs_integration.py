"""The workstation's training side: the Jobs dock, Tools > New training or search…, and closing with jobs running.

Kept out of ``main_window.py`` so the window only calls :func:`install_jobs`
and :func:`confirm_close`.
"""

from __future__ import annotations

import importlib
import sys
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMessageBox, QToolBar

from medvision_app.gui.job_monitor import JobMonitor
from medvision_app.gui.theme import icon
from medvision_app.gui.workers import start_worker
from medvision_app.jobs import JobHistory, JobSpec


def install_jobs(window: QMainWindow, history: Optional[JobHistory] = None) -> JobMonitor:
    """Add the Jobs dock, the wizard's menu entry and toolbar button to ``window``."""
    monitor = JobMonitor(history)
    window.job_monitor = monitor
    settings = getattr(window, "settings", None)
    if settings is not None:
        saved = {device: _int(settings.value(f"jobs/per_device_{device}")) for device in ("cpu", "gpu")}
        monitor.set_limits({device: n for device, n in saved.items() if n})
        monitor.limitsChanged.connect(lambda limits: _save_limits(settings, limits))
    window.docks["jobs"] = window._dock("Jobs", monitor, Qt.DockWidgetArea.BottomDockWidgetArea)
    action = QAction(icon("train"), "New training or search…", window)
    action.setToolTip("Train a classifier or search an architecture on your data")
    action.setShortcut("Ctrl+T")
    action.triggered.connect(lambda: open_wizard(window))  # a worker imports torch the first time
    window.act_new_job = action
    for menu_action in window.menuBar().actions():
        if menu_action.text().replace("&", "") == "Tools":
            menu = menu_action.menu()
            menu.addSeparator()
            menu.addAction(action)
            menu.addAction("Jobs", lambda: (window.docks["jobs"].show(), window.docks["jobs"].raise_()))
    for toolbar in window.findChildren(QToolBar):
        if toolbar.objectName() == "toolbar-main":
            toolbar.addSeparator()
            toolbar.addAction(action)
    monitor.duplicateRequested.connect(lambda spec: open_wizard(window, spec))
    monitor.roomWanted.connect(lambda: _give_room(window))
    monitor.jobFinished.connect(lambda job_id, status, text: _notify(window, job_id, status, text))
    window.ask_about_running_jobs = lambda n: _ask(window, n)
    return monitor


def _give_room(window: QMainWindow) -> None:
    """A docked Jobs panel shorter than 55 % of the window grows to that: its curves need the height.

    On a 740 px window that is 200 px of curves below the job list; the user
    can drag the dock back, and only choosing a job asks again.
    """
    dock = window.docks["jobs"]
    want = int(window.height() * 0.55)
    if not dock.isFloating() and dock.isVisible() and dock.height() < want:
        window.resizeDocks([dock], [want], Qt.Orientation.Vertical)


def _int(value) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None  # absent or edited by hand into nonsense: the default stays


def _save_limits(settings, limits: dict) -> None:
    for device, jobs in limits.items():
        settings.setValue(f"jobs/per_device_{device}", int(jobs))
    settings.sync()


# The configs the wizard edits import torch with their packages (networks and training import
# their engines on import): 4 to 8 s, more on a loaded machine. Imported on a worker thread the
# first time, the window keeps drawing while it happens.
_HEAVY = ("medvision_app.training.config", "medvision_app.search.config")


def _import_heavy() -> None:
    for name in _HEAVY:
        importlib.import_module(name)


def open_wizard(window: QMainWindow, spec: Optional[JobSpec] = None, *, wait: bool = False):
    """Open the wizard (pre-filled from ``spec``); Launch queues its job in the monitor.

    The first time, the configs' imports run on a worker thread and the wizard
    opens when they are done (``wait`` imports them here instead; tests and
    scripts that need the wizard at once).
    """
    if wait or all(name in sys.modules for name in _HEAVY):
        return _show_wizard(window, spec)
    window.statusBar().showMessage("Preparing the training wizard (loading PyTorch)…")
    start_worker(_import_heavy, on_returned=lambda _r: _show_wizard(window, spec),
                 on_errored=lambda exc: window.notify_error(exc), owner=window)
    return None


def _show_wizard(window: QMainWindow, spec: Optional[JobSpec]):
    from medvision_app.gui.training_wizard import TrainingWizard

    window.statusBar().clearMessage()
    wizard = TrainingWizard(window, spec=spec)
    wizard.accepted.connect(lambda: launch(window, wizard.spec()))
    window.wizard = wizard
    wizard.open()
    return wizard


def launch(window: QMainWindow, spec: JobSpec) -> int:
    job_id = window.job_monitor.submit(spec)
    dock = window.docks["jobs"]
    dock.show()
    dock.raise_()
    return job_id


def _notify(window, job_id: int, status: str, text: str) -> None:
    level = {"done": "info", "cancelled": "warning"}.get(status, "error")
    window.notifications.notify(level, f"Job {job_id} {status}" + (f": {text}" if text else ""))


def _ask(window, count: int) -> str:
    box = QMessageBox(window)
    box.setWindowTitle("Jobs are running")
    box.setText(f"{count} job(s) are still running.")
    box.setInformativeText("Leave them running (the next start shows them again) or stop them?")
    leave = box.addButton("Leave running", QMessageBox.ButtonRole.AcceptRole)
    stop = box.addButton("Stop them", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    clicked = box.clickedButton()
    return "leave" if clicked is leave else "stop" if clicked is stop else "cancel"


def confirm_close(window: QMainWindow) -> bool:
    """Ask what becomes of running jobs; False keeps the window open."""
    monitor: Optional[JobMonitor] = getattr(window, "job_monitor", None)
    if monitor is None:
        return True
    live = monitor.live_jobs()
    if live:
        choice = window.ask_about_running_jobs(len(live))
        if choice == "cancel":
            return False
        if choice == "stop":
            monitor.stop_all()
    monitor.detach_all()
    return True
