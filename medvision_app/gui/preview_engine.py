"""Latest-wins background computation for live previews.

While a slider is dragged, edits arrive faster than a preview can be computed.
The engine runs one job at a time on its own thread; a request made while one
is running replaces any request still waiting, so the preview always catches
up with the newest edit and never queues stale work.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QThreadPool, Signal

from medvision_app.gui.workers import start_worker


class PreviewEngine(QObject):
    resultReady = Signal(object, object)  # tag, result
    failed = Signal(object, object)  # tag, exception
    idle = Signal()

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._busy = False
        self._pending: Optional[tuple[Any, Callable, tuple, float]] = None
        self.latencies: list[tuple[Any, float]] = []  # (tag, seconds from request to result)

    def request(self, tag: Any, func: Callable[..., Any], *args: Any) -> None:
        self._pending = (tag, func, args, time.perf_counter())
        self._start_next()

    def busy(self) -> bool:
        return self._busy or self._pending is not None

    def _start_next(self) -> None:
        if self._busy or self._pending is None:
            return
        tag, func, args, requested = self._pending
        self._pending = None
        self._busy = True
        start_worker(
            func, *args,
            on_returned=lambda result: self._done(tag, result, requested),
            on_errored=lambda exc: self.failed.emit(tag, exc),
            on_finished=self._finished,
            pool=self._pool,
            owner=self,
        )

    def _done(self, tag: Any, result: Any, requested: float) -> None:
        self.resultReady.emit(tag, result)
        self.latencies.append((tag, time.perf_counter() - requested))

    def _finished(self) -> None:
        self._busy = False
        if self._pending is None:
            self.idle.emit()
        self._start_next()
