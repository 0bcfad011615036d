"""Where candidates are trained: in this process, or in a pool of worker processes.

An :class:`Executor` takes a batch of candidate tasks and yields each task
with its result as it completes. A cluster backend implements the same two
methods.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from abc import ABC, abstractmethod
from typing import Callable, Iterator, Optional, Sequence

from medvision_app.events import CancelToken, Emit, ignore
from medvision_app.search.candidates import CandidateResult, CandidateTask, train_candidate
from medvision_app.search.data import SearchData

Evaluator = Callable[[CandidateTask, SearchData, Emit, Optional[CancelToken]], CandidateResult]


class Executor(ABC):
    @abstractmethod
    def evaluate(
        self, tasks: Sequence[CandidateTask], *, on_start: Callable[[CandidateTask], None]
    ) -> Iterator[tuple[CandidateTask, CandidateResult]]:
        """Train the tasks; call ``on_start`` as each begins and yield each as it ends."""

    def close(self) -> None:  # noqa: B027 - optional hook, most executors hold nothing
        """Release workers; the executor is not used afterwards."""


class LocalExecutor(Executor):
    """One candidate after another in this process (the default, and the tests' executor)."""

    def __init__(self, data: SearchData, *, evaluator: Evaluator = train_candidate, emit: Emit = ignore,
                 cancel: Optional[CancelToken] = None) -> None:
        self.data, self.evaluator, self.emit, self.cancel = data, evaluator, emit, cancel

    def evaluate(self, tasks, *, on_start):
        for task in tasks:
            if self.cancel is not None:
                self.cancel.raise_if_cancelled()
            on_start(task)
            yield task, self.evaluator(task, self.data, self.emit, self.cancel)


_WORKER_DATA: Optional[SearchData] = None


def _init_worker(data: SearchData, threads: int) -> None:
    global _WORKER_DATA
    import torch

    _WORKER_DATA = data
    torch.set_num_threads(threads)
    if torch.cuda.device_count() > 1:
        # one GPU per worker: spread the workers over the devices by process id
        torch.cuda.set_device(os.getpid() % torch.cuda.device_count())


def _run_in_worker(task: CandidateTask) -> CandidateResult:
    if _WORKER_DATA is None:
        raise RuntimeError("the worker initialiser did not run")
    return train_candidate(task, _WORKER_DATA)


class ProcessPoolExecutor(Executor):
    """``workers`` spawned processes, each holding the data once and training one candidate at a time."""

    def __init__(self, data: SearchData, workers: int, *, cancel: Optional[CancelToken] = None) -> None:
        if workers < 1:
            raise ValueError(f"workers={workers} must be at least 1")
        self.workers = workers
        self.cancel = cancel
        threads = max(1, (os.cpu_count() or 1) // workers)
        self.pool = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(data, threads),
        )

    def evaluate(self, tasks, *, on_start):
        queue = list(tasks)
        running: dict[cf.Future, CandidateTask] = {}
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    task = queue.pop(0)
                    on_start(task)
                    running[self.pool.submit(_run_in_worker, task)] = task
                done, _ = cf.wait(running, timeout=1.0, return_when=cf.FIRST_COMPLETED)
                if self.cancel is not None:
                    self.cancel.raise_if_cancelled()
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
        for proc in list(getattr(self.pool, "_processes", {}).values()):
            proc.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)


def make_executor(data: SearchData, workers: int, *, emit: Emit = ignore, cancel: Optional[CancelToken] = None) -> Executor:
    if workers <= 1:
        return LocalExecutor(data, emit=emit, cancel=cancel)
    return ProcessPoolExecutor(data, workers, cancel=cancel)
