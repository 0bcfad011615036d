"""Run functions and generators off the GUI thread, napari-style.

A job is a plain function or a generator function. A generator's ``yield``
values arrive on the GUI thread through ``on_yielded`` (progress events,
partial results); its ``return`` value through ``on_returned``; a job that
raised goes to ``on_errored``; a cancelled one (or one that raised
:class:`~medvision_app.events.Cancelled`) to ``on_aborted``; every job ends
with ``on_finished``. The pool thread emits one queued signal of one
long-lived dispatcher on the GUI thread, so callbacks never run on a worker
thread and never touch a widget from there.

One dispatcher for every job, not a signals object per job: PySide 6.11
keeps a reference to ``None`` for every ``connect`` it is asked to make, and
a session's thousands of thumbnails, previews and progress events added up.
"""

from __future__ import annotations

import inspect
import logging
import time
import weakref
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot
from shiboken6 import isValid

from medvision_app.errors import UserError
from medvision_app.events import Cancelled, CancelToken

log = logging.getLogger(__name__)

KINDS = ("yielded", "returned", "errored", "aborted", "finished")


class Worker:
    """One job. ``cancel()`` sets :attr:`cancel_token`; generators stop at their next yield.

    A plain object run through ``QThreadPool.start(callable)``, not a
    QRunnable: PySide keeps a reference to a QRunnable whose autoDelete is off
    for ever, and every finished job (with the 12-megapixel image among its
    arguments) stayed in memory. Yielded values cross as they are: make them
    plain data (progress events, arrays), never Qt objects.
    """

    def __init__(self, func: Callable[..., Any], *args: Any, callbacks: dict, owner: Optional[QObject] = None,
                 **kwargs: Any) -> None:
        self.cancel_token = CancelToken()
        self.name = getattr(func, "__name__", repr(func))
        self._job: Optional[tuple] = (func, args, kwargs)
        self._outcome: Optional[tuple] = None  # (kind, value), handed to the GUI thread
        self.callbacks = callbacks
        # Weak: a job must not keep its window alive, and once the owner is
        # gone (deleted by Qt or collected) its callbacks are not called.
        self._owner = weakref.ref(owner) if owner is not None else None
        self.done = False

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def owner_alive(self) -> bool:
        if self._owner is None:
            return True
        owner = self._owner()
        return owner is not None and isValid(owner)

    def run(self) -> None:  # runs on a pool thread
        # The outcome waits on the worker for the GUI thread, which also drops
        # the job and its callbacks: the last reference to anything the job
        # touched (a widget's bound method, an image) must go on the GUI
        # thread. Dropped here, a QWidget died on a pool thread and deadlocked
        # against the GUI thread (Qt's object mutex against the GIL).
        self._outcome = self._call()
        self._post(self._outcome[0])
        self.done = True
        self._post("finished")

    def _call(self) -> tuple:
        func, args, kwargs = self._job
        try:
            result = func(*args, **kwargs)
            if inspect.isgenerator(result):
                result = self._drain(result)
        except Cancelled:
            return ("aborted", None)
        except Exception as exc:  # noqa: BLE001 - every failure goes to the GUI as a notification
            if not isinstance(exc, UserError):
                log.error("job %s failed", self.name, exc_info=True)
            return ("errored", exc)
        if self.cancel_token.cancelled:
            return ("aborted", None)
        return ("returned", result)

    def _drain(self, gen) -> Any:
        while True:
            if self.cancel_token.cancelled:
                gen.close()
                raise Cancelled()
            try:
                value = next(gen)
            except StopIteration as stop:
                return stop.value
            self._post("yielded", value)

    def _post(self, kind: str, value: Any = None) -> None:
        """Send ``kind`` to the GUI thread, unless the application is being torn down.

        When the QApplication goes, PySide destroys every QObject Python owns,
        the dispatcher included, and an emit from a job still running then
        raised ``RuntimeError: Signal source has been deleted``. The app waits
        for its jobs before it ends (:func:`shutdown`); this covers a job that
        outlived that wait.
        """
        hub = _dispatcher
        if hub is None or not isValid(hub):
            return
        try:
            hub.posted.emit((self, kind, value))
        except RuntimeError:
            if isValid(hub):
                raise
            log.debug("job %s ended after the application: its %s was dropped", self.name, kind)


class _Dispatcher(QObject):
    """Lives on the GUI thread: the pool threads' posts reach it queued, in the order they were sent."""

    posted = Signal(object)  # (worker, kind, value)

    def __init__(self) -> None:
        super().__init__()
        self.posted.connect(self._deliver)

    @Slot(object)
    def _deliver(self, message) -> None:
        worker, kind, value = message
        if kind in ("returned", "errored"):
            value = worker._outcome[1]
        callback = worker.callbacks.get(kind)
        try:
            if callback is None or not worker.owner_alive():
                pass
            elif kind in ("aborted", "finished"):
                callback()
            else:
                callback(value)
        finally:
            if kind == "finished":
                # the job, its result and its closures (and the images they hold) go now, on this thread
                worker._job = worker._outcome = None
                worker.callbacks = {}
                _running.discard(worker)


_running: set[Worker] = set()
_dispatcher: Optional[_Dispatcher] = None


def start_worker(
    func: Callable[..., Any],
    *args: Any,
    on_returned: Optional[Callable[[Any], None]] = None,
    on_yielded: Optional[Callable[[Any], None]] = None,
    on_errored: Optional[Callable[[BaseException], None]] = None,
    on_aborted: Optional[Callable[[], None]] = None,
    on_finished: Optional[Callable[[], None]] = None,
    pool: Optional[QThreadPool] = None,
    owner: Optional[QObject] = None,
    **kwargs: Any,
) -> Worker:
    """Start ``func(*args, **kwargs)`` on ``pool`` (the global pool by default).

    Call from the GUI thread; the callbacks then run on the GUI thread. Every
    job ends with exactly one of ``on_returned``, ``on_errored`` or
    ``on_aborted``, then ``on_finished``. The worker is kept alive until it
    finishes, so callers may drop their reference. When ``owner`` is deleted
    first, the callbacks are not called.
    """
    global _dispatcher
    if _dispatcher is None or not isValid(_dispatcher):
        _dispatcher = _Dispatcher()
    callbacks = {"returned": on_returned, "yielded": on_yielded, "errored": on_errored, "aborted": on_aborted,
                 "finished": on_finished}
    worker = Worker(func, *args, callbacks={k: v for k, v in callbacks.items() if v is not None}, owner=owner,
                    **kwargs)
    _running.add(worker)
    (pool or QThreadPool.globalInstance()).start(worker.run)
    return worker


def running_workers() -> int:
    """How many started workers have not been seen to finish on the GUI thread yet (tests wait on this)."""
    return len(_running)


def unfinished_jobs() -> list[str]:
    """Names of jobs whose function has not returned yet."""
    return [w.name for w in list(_running) if not w.done]


def shutdown(timeout: float = 15.0) -> list[str]:
    """Cancel every job and wait up to ``timeout`` seconds for them to return; the names of those still running.

    Called when the event loop has ended and before the interpreter does: a
    pool thread still running Python code while the interpreter finalizes is
    stopped dead inside its job, and the thread pool's destructor then waits
    for it for ever (smoke runs that hung under load).
    """
    for worker in list(_running):
        worker.cancel()
    deadline = time.monotonic() + timeout
    while unfinished_jobs() and time.monotonic() < deadline:
        time.sleep(0.01)  # sleeping releases the GIL the jobs need to finish
    left = unfinished_jobs()
    if left:
        log.warning("leaving with %d job(s) still running: %s", len(left), ", ".join(left))
    return left
