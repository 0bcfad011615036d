"""Where MedVision keeps the user's own files.

Everything the user accumulates (imported models, the signing key, the job
history and cached results, logs) lives under one data folder so that
``MEDVISION_HOME`` moves all of it at once: tests point it at a temporary
folder, and a user can keep a portable installation on a USB disk.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_data_dir() -> Path:
    """``$MEDVISION_HOME``, else ``$XDG_DATA_HOME/medvision`` (``~/.local/share/medvision``)."""
    home = os.environ.get("MEDVISION_HOME")
    if home:
        return Path(home)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "medvision"


def database_path() -> Path:
    """The SQLite file shared by the job history and the cached AI results.

    Each module creates its own tables in it (``CREATE TABLE IF NOT EXISTS``)
    and opens it in WAL mode, so the GUI and CLI jobs can read and write at once.
    """
    return user_data_dir() / "medvision.sqlite3"


def log_dir() -> Path:
    return user_data_dir() / "logs"
