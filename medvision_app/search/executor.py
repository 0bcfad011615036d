"""Where candidates are trained: in this process, in a pool of worker processes, or on a Ray cluster.

Every :class:`Executor` takes a batch of candidate tasks with the search's
``emit`` and ``cancel`` and yields each task with its result as it
completes; results carry their weights as bytes, so no backend needs a
shared disk. The Ray backend lives in :mod:`.ray_executor` (Ray is an
optional extra).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import queue as queue_module
from abc import ABC, abstractmethod
from typing import Callable, Iterator, Optional, Sequence

from medvision_app.events import Cancelled, CancelToken, Emit, ignore
from medvision_app.search.candidates import CandidateResult, CandidateTask, train_candidate
from medvision_app.search.data import SearchData

Evaluator = Callable[[CandidateTask, SearchData, Emit, Optional[CancelToken]], CandidateResult]
OnStart = Callable[[CandidateTask], None]


def _nothing(_task: CandidateTask) -> None:
    pass


class Executor(ABC):
    #: candidates trained at the same time (successive halving keeps this many)
    slots: int = 1
    #: the tasks' checkpoint folders are on a disk the workers share with the driver
    local_files: bool = True

    @abstractmethod
    def evaluate(
        self, tasks: Sequence[CandidateTask], *, on_start: OnStart = _nothing, emit: Emit = ignore,
        cancel: Optional[CancelToken] = None,
    ) -> Iterator[tuple[CandidateTask, CandidateResult]]:
        """Train the tasks; call ``on_start`` as each begins, relay their events to ``emit``, yield each as it ends.

        Raises :class:`~medvision_app.events.Cancelled` once ``cancel`` fires;
        the tasks still running are stopped.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most executors hold nothing
        """Release workers; the executor is not used afterwards."""


class LocalExecutor(Executor):
    """One candidate after another in this process (the default, and the tests' executor)."""

    def __init__(self, data: SearchData, *, evaluator: Evaluator = train_candidate) -> None:
        self.data, self.evaluator = data, evaluator

    def evaluate(self, tasks, *, on_start=_nothing, emit=ignore, cancel=None):
        for task in tasks:
            if cancel is not None:
                cancel.raise_if_cancelled()
            on_start(task)
            yield task, self.evaluator(task, self.data, emit, cancel)


class _SharedCancel(CancelToken):
    """A worker's view of the driver's cancel: a multiprocessing event."""

    def __init__(self, event) -> None:
        super().__init__()
        self._event = event

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


_WORKER: dict = {}


def _init_worker(data: SearchData, threads: int, events, cancel_event, evaluator: Evaluator) -> None:
    import torch

    _WORKER.update(data=data, events=events, cancel=_SharedCancel(cancel_event), evaluator=evaluator)
    torch.set_num_threads(threads)
    if torch.cuda.device_count() > 1:
        # one GPU per worker: spread the workers over the devices by process id
        torch.cuda.set_device(os.getpid() % torch.cuda.device_count())


def _run_in_worker(task: CandidateTask) -> CandidateResult:
    if not _WORKER:
        raise RuntimeError("the worker initialiser did not run")
    return _WORKER["evaluator"](task, _WORKER["data"], _WORKER["events"].put, _WORKER["cancel"])


class ProcessPoolExecutor(Executor):
    """``workers`` spawned processes, each holding the data once and training one candidate at a time.

    Workers send their events through a queue that :meth:`evaluate` relays to
    ``emit``; a cancel sets an event every worker's token reads.
    """

    def __init__(self, data: SearchData, workers: int, *, evaluator: Evaluator = train_candidate) -> None:
        if workers < 1:
            raise ValueError(f"workers={workers} must be at least 1")
        self.workers = self.slots = workers
        context = multiprocessing.get_context("spawn")
        self.events = context.Queue()
        self.cancel_event = context.Event()
        threads = max(1, (os.cpu_count() or 1) // workers)
        self.pool = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker,
            initargs=(data, threads, self.events, self.cancel_event, evaluator),
        )

    def _relay(self, emit: Emit) -> None:
        while True:
            try:
                emit(self.events.get_nowait())
            except queue_module.Empty:
                return

    def evaluate(self, tasks, *, on_start=_nothing, emit=ignore, cancel=None):
        queue = list(tasks)
        running: dict[cf.Future, CandidateTask] = {}
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    task = queue.pop(0)
                    on_start(task)
                    running[self.pool.submit(_run_in_worker, task)] = task
                done, _ = cf.wait(running, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                self._relay(emit)
                if cancel is not None and cancel.cancelled:
                    self.cancel_event.set()
                    cancel.raise_if_cancelled()
                for future in done:
                    task = running.pop(future)
                    yield task, future.result()
        finally:
            for future in running:
                future.cancel()

    def close(self) -> None:
        # A candidate still running after a budget stop or a cancel would keep
        # its core busy during the final retraining; its last epoch checkpoint
        # is on disk, so ending it loses nothing a resume needs.
        self.cancel_event.set()
        for proc in list(getattr(self.pool, "_processes", {}).values()):
            proc.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)


def make_executor(data: SearchData, workers: int, *, name: str = "auto", ray=None) -> Executor:
    """The executor ``name`` (``SearchConfig.executor``) for ``workers`` candidates at a time."""
    if name == "ray":
        from medvision_app.search.ray_executor import RayExecutor

        return RayExecutor(data, ray)
    if name == "local" or (name == "auto" and workers <= 1):
        return LocalExecutor(data)
    return ProcessPoolExecutor(data, workers)
