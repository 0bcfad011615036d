"""Leaving the app with jobs still running: no stray errors, no hang.

Smoke starts under load printed ``RuntimeError: Signal source has been
deleted`` (a job finishing after PySide had destroyed the QObjects Python
owned) and some hung past 90 s (jobs still in Python code while the
interpreter finalized). Each case runs in a fresh interpreter, as a real exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import sys, time
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QWidget
    from medvision_app.gui.app import finish_jobs
    from medvision_app.gui.workers import start_worker

    app = QApplication([])
    window = QWidget()

    def slow():  # not cancellable: it returns after the event loop has ended
        time.sleep(1.0)
        return 1

    def endless():  # a generator: cancelled at its next yield
        while True:
            time.sleep(0.01)
            yield None

    start_worker(slow, on_returned=print, owner=window)
    start_worker(endless, owner=window)
    QTimer.singleShot(100, lambda: app.exit(0))
    app.exec()
    print("LEFT", finish_jobs(timeout=float(sys.argv[1])), flush=True)
    """
)


def _leave(wait: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", CHILD, wait], capture_output=True, text=True, env=env, timeout=120)


def test_leaving_waits_for_running_jobs_and_cancels_endless_ones():
    done = _leave("30")
    assert done.returncode == 0, done.stderr
    assert "LEFT []" in done.stdout
    assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr


def test_a_job_that_outlives_the_wait_ends_without_a_stray_error():
    done = _leave("0.05")  # the slow job is still running when the interpreter ends
    assert done.returncode == 0, done.stderr
    assert "LEFT ['slow']" in done.stdout
    assert "Signal source has been deleted" not in done.stderr and "Traceback" not in done.stderr, done.stderr
