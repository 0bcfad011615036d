"""Opening input files safely: regular files only, and plain words for every OS failure.

A workstation opens files from CDs, shares and e-mail. Reading a FIFO blocks
for ever, and a symlink to ``/dev/zero`` never ends, so a file is opened
with ``O_NONBLOCK`` (which makes opening a FIFO return at once) and checked
with ``fstat`` on the descriptor itself (no race with a swapped path) before
a single byte is read.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import BinaryIO, Union

from medvision_app.imaging.errors import ImageOpenError

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)


def file_kind(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def not_regular_reason(mode: int) -> str:
    return f"is {file_kind(mode)}, not a regular file; only regular files are read"


def os_error_reason(exc: OSError) -> str:
    """An OSError in plain words, without the file name (the caller names the file)."""
    if exc.errno == errno.ENAMETOOLONG:
        return "the file name is too long for this system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (the file or a folder on its path is not readable by this user)"
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links (a symlink loop)"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path is not a folder"
    if exc.errno == errno.ENXIO:
        return "no such device or address (a socket or a device without a driver)"
    return f"cannot read the file: {exc.strerror or exc}"


def open_regular_fd(path: Union[str, os.PathLike]) -> int:
    """A read-only descriptor of ``path``, which must be a regular file.

    The descriptor keeps ``O_NONBLOCK``, which changes nothing for regular files.

    Raises
    ------
    ImageOpenError
        Missing, unreadable, special file (FIFO, device, socket), folder,
        name too long... with the reason in words.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise ImageOpenError(path, "is a folder, not an image file (open it as a folder to scan it)") from None
        if exc.errno == errno.ENXIO:  # a socket: stat says what it is
            try:
                mode = os.stat(path).st_mode
            except OSError:
                mode = stat.S_IFREG
            if not stat.S_ISREG(mode):
                raise ImageOpenError(path, not_regular_reason(mode)) from None
        raise ImageOpenError(path, os_error_reason(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
    except OSError as exc:
        os.close(fd)
        raise ImageOpenError(path, os_error_reason(exc)) from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise ImageOpenError(path, "is a folder, not an image file (open it as a folder to scan it)")
        raise ImageOpenError(path, not_regular_reason(mode))
    return fd


def open_regular(path: Union[str, os.PathLike]) -> BinaryIO:
    """``open_regular_fd`` as a buffered binary file object (blocking reads again)."""
    fd = open_regular_fd(path)
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    return os.fdopen(fd, "rb")


def stat_input(path: Union[str, os.PathLike], *, missing: str = "no such file") -> os.stat_result:
    """``os.stat`` with every failure as an :class:`ImageOpenError` naming the path."""
    try:
        return os.stat(path)
    except OSError as exc:
        reason = missing if exc.errno == errno.ENOENT else os_error_reason(exc)
        raise ImageOpenError(Path(path), reason) from None


def is_folder(path: Union[str, os.PathLike]) -> bool:
    """Whether ``path`` is a folder (False when it does not exist).

    Raises :class:`ImageOpenError` when it cannot be looked at (permission
    denied on a parent, a name too long, a symlink loop).
    """
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ImageOpenError(Path(path), os_error_reason(exc)) from None
