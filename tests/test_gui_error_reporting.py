"""Failures are seen: notifications with the traceback, the rotating log file, Help > Open Log Folder, helper crashes."""

from __future__ import annotations

import logging
import logging.handlers
import os
import threading

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402

from medvision_app.errors import UserError  # noqa: E402
from medvision_app.gui.notifications import describe_error  # noqa: E402
from medvision_app.utils import logfile  # noqa: E402

TIMEOUT = 30000


@pytest.fixture
def home(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"
    logfile.remove_log_file()


@pytest.fixture
def window(qtbot, home, tmp_path):
    from medvision_app.gui.main_window import MainWindow

    win = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    return win


def _raise(exc):
    try:
        raise exc
    except Exception as caught:  # noqa: BLE001
        return caught


def test_an_unexpected_error_shows_its_traceback_under_details():
    message, details = describe_error(_raise(KeyError("frame")))
    assert message == "Unexpected error: KeyError: 'frame'"
    assert "Traceback (most recent call last)" in details and "_raise" in details and "KeyError: 'frame'" in details


def test_a_user_error_says_what_to_fix_without_a_traceback():
    message, details = describe_error(_raise(UserError("the config file has no [train] table")))
    assert message == "the config file has no [train] table" and "Traceback" not in details


def test_a_job_failure_becomes_a_notification_and_a_log_record(qtbot, window, home):
    from medvision_app.gui.workers import start_worker

    logfile.install_log_file()

    def broken_job():
        return {}["missing"]

    start_worker(broken_job, on_errored=window.notify_error, owner=window)
    qtbot.waitUntil(lambda: len(window.notifications.cards) == 1, timeout=TIMEOUT)
    card = window.notifications.cards[0]
    assert card.notice.message.startswith("Unexpected error: KeyError")
    assert "broken_job" in card.notice.details
    card.details_button.click()
    assert card.details.isVisible() and "Traceback" in card.details.toPlainText()
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = (home / "logs" / "medvision.log").read_text()
    assert "job broken_job failed" in text and "KeyError: 'missing'" in text


def test_an_exception_escaping_a_slot_is_shown_and_logged(qtbot, window, home, monkeypatch):
    import sys

    from medvision_app.gui.error_reporting import install_excepthook

    logfile.install_log_file()
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    install_excepthook(window.errors)
    sys.excepthook(ZeroDivisionError, _raise(ZeroDivisionError("division by zero")), None)
    qtbot.waitUntil(lambda: bool(window.notifications.cards), timeout=TIMEOUT)
    assert window.notifications.cards[-1].notice.message == "Unexpected error: ZeroDivisionError: division by zero"
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "ZeroDivisionError" in (home / "logs" / "medvision.log").read_text()


def test_the_log_file_rotates_and_keeps_the_console_quiet(home):
    root = logging.getLogger()
    console = logging.StreamHandler()
    root.addHandler(console)
    level = root.level
    root.setLevel(logging.WARNING)
    try:
        path = logfile.install_log_file()
        assert logfile.install_log_file() == path  # once only
        handlers = [h for h in root.handlers if isinstance(h, logging.handlers.RotatingFileHandler)]
        assert len(handlers) == 1 and handlers[0].maxBytes == logfile.MAX_BYTES
        assert console.level == logging.WARNING  # INFO goes to the file, not to the terminal
        logging.getLogger("medvision_app.test").info("x" * 1000)
        handlers[0].maxBytes = 5000
        for _ in range(20):
            logging.getLogger("medvision_app.test").info("y" * 1000)
        assert path.is_file() and path.with_name(path.name + ".1").is_file()
    finally:
        root.removeHandler(console)
        root.setLevel(level)


def test_help_offers_the_log_folder(qtbot, window, home, monkeypatch):
    from PySide6.QtGui import QDesktopServices

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    action = next(a for a in help_menu.actions() if a.text() == "Open Log Folder")
    action.trigger()
    assert opened == [str(home / "logs")] and (home / "logs").is_dir()


def test_a_crashed_decoder_helper_is_reported(qtbot, window, home, tmp_path):
    """A helper that dies on a file: the file fails with a reason, and the crash is a notification of its own."""
    from medvision_app.gui import decoder
    from medvision_app.imaging import ImageOpenError

    decoder.warm_up()
    victim = tmp_path / "victim.dcm"
    errors: list = []

    def decode():  # as load_for_view does, with a "decoder" that kills its helper process
        try:
            decoder._in_helper(victim, os._exit, 3)
        except ImageOpenError as exc:
            errors.append(exc)

    thread = threading.Thread(target=decode)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=120000)
    assert errors and "stopped unexpectedly" in errors[0].reason
    qtbot.waitUntil(lambda: any("decoder helper process stopped" in m for m in window.notifications.visible_messages()),
                    timeout=TIMEOUT)
    decoder.shutdown()
