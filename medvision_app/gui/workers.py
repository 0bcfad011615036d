"""Run functions and generators off the GUI thread, napari-style.

A job is a plain function or a generator function. A generator's ``yield``
values arrive on the GUI thread through :attr:`WorkerSignals.yielded` (progress
events, partial results); its ``return`` value through ``returned``. Every
signal is emitted from the pool thread and delivered by Qt's queued connection
to the receiver's thread, so slots never run on a worker thread and never touch
a widget from there.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from medvision_app.events import Cancelled, CancelToken

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)  # the exception
    aborted = Signal()
    finished = Signal()


class Worker(QRunnable):
    """One job. ``cancel()`` sets :attr:`cancel_token`; generators stop at their next yield."""

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.signals = WorkerSignals()
        self.cancel_token = CancelToken()
        self._func, self._args, self._kwargs = func, args, kwargs
        self.done = False

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def run(self) -> None:  # runs on a pool thread
        s = self.signals
        s.started.emit()
        try:
            result = self._func(*self._args, **self._kwargs)
            if inspect.isgenerator(result):
                result = self._drain(result)
        except Cancelled:
            s.aborted.emit()
        except Exception as exc:  # noqa: BLE001 - every failure goes to the GUI as a notification
            log.debug("worker %s failed", getattr(self._func, "__name__", self._func), exc_info=True)
            s.errored.emit(exc)
        else:
            if self.cancel_token.cancelled:
                s.aborted.emit()
            else:
                s.returned.emit(result)
        finally:
            self.done = True
            s.finished.emit()

    def _drain(self, gen) -> Any:
        while True:
            if self.cancel_token.cancelled:
                gen.close()
                raise Cancelled()
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
            self.signals.yielded.emit(value)


_running: set[Worker] = set()


class _Relay(QObject):
    """Lives on the GUI thread, so signals reach it queued and its slots call back there.

    Plain functions or lambdas connected straight to a worker's signals have no
    thread of their own; routing them through a QObject fixes where they run.
    """

    def __init__(self, worker: Worker, callbacks: dict[str, Optional[Callable]], owner: Optional[QObject]) -> None:
        # As a child of ``owner`` the relay dies with it, and Qt drops the
        # queued callbacks of a job that outlives its window.
        super().__init__(owner)
        self._worker = worker
        self._cb = callbacks
        s = worker.signals
        s.returned.connect(self._returned)
        s.yielded.connect(self._yielded)
        s.errored.connect(self._errored)
        s.finished.connect(self._finished)

    @Slot(object)
    def _returned(self, value: Any) -> None:
        if self._cb["returned"]:
            self._cb["returned"](value)

    @Slot(object)
    def _yielded(self, value: Any) -> None:
        if self._cb["yielded"]:
            self._cb["yielded"](value)

    @Slot(object)
    def _errored(self, exc: Any) -> None:
        if self._cb["errored"]:
            self._cb["errored"](exc)

    @Slot()
    def _finished(self) -> None:
        if self._cb["finished"]:
            self._cb["finished"]()


class _Reaper(QObject):
    """Forgets finished workers, whether or not their owner still exists."""

    @Slot()
    def reap(self) -> None:
        for worker in [w for w in _running if w.done]:
            _running.discard(worker)
            worker.relay = None


_reaper: Optional[_Reaper] = None


def start_worker(
    func: Callable[..., Any],
    *args: Any,
    on_returned: Optional[Callable[[Any], None]] = None,
    on_yielded: Optional[Callable[[Any], None]] = None,
    on_errored: Optional[Callable[[BaseException], None]] = None,
    on_finished: Optional[Callable[[], None]] = None,
    pool: Optional[QThreadPool] = None,
    owner: Optional[QObject] = None,
    **kwargs: Any,
) -> Worker:
    """Start ``func(*args, **kwargs)`` on ``pool`` (the global pool by default).

    Call from the GUI thread; the callbacks then run on the GUI thread. The
    worker is kept alive until it finishes, so callers may drop their reference.
    When ``owner`` is deleted first, the callbacks are not called.
    """
    global _reaper
    if _reaper is None:
        _reaper = _Reaper()
    worker = Worker(func, *args, **kwargs)
    worker.relay = _Relay(
        worker, {"returned": on_returned, "yielded": on_yielded, "errored": on_errored, "finished": on_finished}, owner
    )
    worker.signals.finished.connect(_reaper.reap)
    _running.add(worker)
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker


def running_workers() -> int:
    """How many started workers have not finished yet (tests wait on this)."""
    return len(_running)
