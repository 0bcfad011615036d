"""One job at a time in a run or search folder: an exclusive ``fcntl.flock`` on ``FOLDER/.lock``.

Two trainings writing to one folder interleave their metrics and leave
``best.pt`` from one and ``last.pt`` from the other, so the second job is
refused at once, naming the folder and the process that holds it. The lock
belongs to the open file, so the kernel drops it when the holder dies, even
by SIGKILL: a stale ``.lock`` file never blocks a resume. The file is left
in place on release (removing it would race with a job that just opened it).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from medvision_app.errors import UserError

LOCK_NAME = ".lock"


class FolderBusy(UserError):
    """Another process holds the folder; ``str()`` names the folder and its pid."""

    def __init__(self, folder: Path, pid: str) -> None:
        self.folder = folder
        self.pid = pid
        holder = f"process {pid}" if pid else "another process"
        super().__init__(f"{folder}: in use by {holder} (another job is writing to this folder); "
                         "wait for it to finish or choose another folder")


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError):
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
    return ""


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[Path]:
    """Hold ``folder``'s lock inside the block (the folder must exist); :class:`FolderBusy` when taken."""
    folder = Path(folder)
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise UserError(f"{folder}: cannot lock the folder: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(folder, _holder(fd)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield folder
    finally:
        os.close(fd)  # closing releases the flock
