"""The rotating log file in the user's data folder (``log_dir()/medvision.log``).

Failures that are not the user's doing (bugs, crashed helpers) go here with
their traceback, so a report can quote them after the notification is gone.
Messages name files by path and never carry patient identifiers.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Optional

from medvision_app.utils.paths import log_dir

LOG_NAME = "medvision.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 3  # at most 8 MB in all


def log_file() -> Path:
    return log_dir() / LOG_NAME


def install_log_file(level: int = logging.INFO, *, logger: Optional[logging.Logger] = None) -> Optional[Path]:
    """Send ``logger``'s records (the root's by default) at ``level`` and above to the log file; its path.

    Idempotent per file. An unwritable data folder is not fatal: the app runs
    on without a file, and None says so.
    """
    logger = logger or logging.getLogger()
    path = log_file()
    for handler in logger.handlers:
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename) == path.resolve():
            return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file in %s: %s", path.parent, exc.strerror or exc)
        return None
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s]: %(message)s"))
    before = logger.getEffectiveLevel()
    if before > level:
        # The console keeps its own threshold: only the file hears more.
        for other in logger.handlers:
            if other.level == logging.NOTSET:
                other.setLevel(before)
        logger.setLevel(level)
    logger.addHandler(handler)
    return path


def remove_log_file(logger: Optional[logging.Logger] = None) -> None:
    """Detach and close the log file handler (tests, and a data folder that moves)."""
    logger = logger or logging.getLogger()
    for handler in list(logger.handlers):
        if isinstance(handler, RotatingFileHandler) and Path(handler.baseFilename).name == LOG_NAME:
            logger.removeHandler(handler)
            handler.close()
