"""Typed progress events and cancellation shared by every long job.

A job (a folder scan, a training run, a search) takes an ``emit`` callback and a
:class:`CancelToken`. It calls ``emit(event)`` with frozen dataclass events; the
GUI bridges them to Qt signals, the CLI draws a progress bar, the log writes
them as JSON lines. Jobs never know which consumer is listening.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Callable, Optional


class Cancelled(Exception):
    """Raised inside a job when its :class:`CancelToken` was set."""


class CancelToken:
    """Thread-safe cancellation flag handed to a job by whoever started it."""

    def __init__(self) -> None:
        self._flag = threading.Event()

    def cancel(self) -> None:
        self._flag.set()

    @property
    def cancelled(self) -> bool:
        return self._flag.is_set()

    def raise_if_cancelled(self) -> None:
        if self._flag.is_set():
            raise Cancelled()


@dataclass(frozen=True)
class Event:
    """Base of all job events."""

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict:
        out = {"event": self.kind}
        out.update(dataclasses.asdict(self))
        return out


@dataclass(frozen=True)
class Progress(Event):
    """Generic progress: ``done`` of ``total`` units (``total`` None when unknown)."""

    done: int
    total: Optional[int]
    message: str = ""

    @property
    def fraction(self) -> Optional[float]:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


Emit = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default ``emit``: nobody is listening."""
