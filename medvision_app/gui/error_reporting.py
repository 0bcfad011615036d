"""Failures the user must see: unexpected exceptions, crashed helper processes, the log folder.

A job's failure arrives through its ``on_errored`` callback; this module covers
what has no such callback: an exception escaping a slot (PySide prints it and
carries on, so it used to reach stderr only) and a decoder helper process that
died. Both are logged to the rotating log file and shown as a notification
with the details underneath.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from medvision_app.gui import decoder
from medvision_app.gui.notifications import describe_error
from medvision_app.utils.paths import log_dir

log = logging.getLogger(__name__)


class ErrorReporter(QObject):
    """Routes failures to ``window.notifications`` on the GUI thread, from whichever thread saw them."""

    reported = Signal(str, str, str)  # level, message, details

    def __init__(self, window) -> None:
        super().__init__(window)
        self._window = window
        self.reported.connect(lambda level, message, details: window.notifications.notify(level, message, details))
        decoder.on_helper_crash(self.helper_crashed)

    def helper_crashed(self, message: str) -> None:
        # emitted from a worker thread: Qt queues it to the window's thread
        self.reported.emit("error", message, f"The log file in {log_dir()} has the details.")

    def exception(self, exc: BaseException) -> None:
        log.error("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
        message, details = describe_error(exc)
        self.reported.emit("error", message, details)


def install_excepthook(reporter: ErrorReporter) -> None:
    """Exceptions escaping a slot become a logged notification instead of a line on stderr."""
    previous = sys.excepthook

    def hook(kind, value, tb) -> None:
        if not issubclass(kind, Exception):
            previous(kind, value, tb)
            return
        try:
            reporter.exception(value.with_traceback(tb))
        except RuntimeError:  # the window is gone: fall back to the default report
            previous(kind, value, tb)

    sys.excepthook = hook


def open_log_folder() -> Path:
    """Show the log folder in the desktop's file manager (created if need be); its path."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
    return folder
