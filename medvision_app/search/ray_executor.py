"""Candidates as Ray tasks: one machine's cores, or every GPU of a cluster.

The search data go into Ray's object store once; each candidate is a task
that asks for ``gpus_per_candidate`` GPUs when the cluster has GPUs, else
``cpus_per_candidate`` CPUs. A task whose worker process dies (killed, out
of memory, its machine gone) is run again up to ``max_retries`` times; its
result carries the weights as bytes, so no shared disk is needed. Events
come back through a Ray queue; a cancel cancels the tasks.

Ray is optional: ``pip install medvision[cluster]``.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from typing import Optional

from medvision_app.errors import UserError
from medvision_app.search.candidates import CandidateTask, train_candidate
from medvision_app.search.config import RaySettings
from medvision_app.search.data import SearchData
from medvision_app.search.executor import Evaluator, Executor, _nothing

log = logging.getLogger(__name__)


class RayUnavailable(UserError, RuntimeError):
    """Ray is not installed, or the cluster cannot be reached; the message says which."""


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("executor = ray needs Ray: pip install 'medvision[cluster]' (or pip install ray)") from None
    return ray


def _candidate(task: CandidateTask, data: SearchData, events, evaluator: Evaluator, threads: int):
    """Runs in a Ray worker: one candidate, its events put on the driver's queue."""
    import torch

    torch.set_num_threads(threads)
    # the object store hands out read-only arrays; the engine only reads them
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")

    def emit(event) -> None:
        try:
            events.put_nowait(event)
        except Exception:  # noqa: BLE001 - a full or gone queue must not fail the candidate
            pass

    return evaluator(task, data, emit, None)


class RayExecutor(Executor):
    local_files = False

    def __init__(self, data: SearchData, settings: Optional[RaySettings] = None, *,
                 evaluator: Evaluator = train_candidate) -> None:
        ray = _import_ray()
        self.ray = ray
        self.settings = settings or RaySettings()
        self.started = False
        if not ray.is_initialized():
            address = self.settings.address or None
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RayUnavailable(f"ray address {address or '(local)'}: {exc}") from None
            self.started = True
        resources = ray.cluster_resources()
        gpus, cpus = float(resources.get("GPU", 0.0)), float(resources.get("CPU", 1.0))
        s = self.settings
        if gpus > 0:
            options = {"num_gpus": s.gpus_per_candidate, "num_cpus": 0}
            self.slots = max(1, int(gpus // s.gpus_per_candidate))
            threads = max(1, int(cpus // max(1, self.slots)))
        else:
            options = {"num_cpus": s.cpus_per_candidate}
            self.slots = max(1, int(cpus // s.cpus_per_candidate))
            threads = max(1, int(s.cpus_per_candidate))
        self.threads = threads
        self.remote = ray.remote(_candidate).options(max_retries=s.max_retries, retry_exceptions=False, **options)
        self.data_ref = ray.put(data)  # once: every task reads the same copy
        self.evaluator = evaluator
        log.info("ray executor: %d slots (%s GPUs, %s CPUs)", self.slots, gpus, cpus)

    def evaluate(self, tasks, *, on_start=_nothing, emit=None, cancel=None):
        from ray.util.queue import Empty, Queue

        ray = self.ray
        events = Queue(actor_options={"num_cpus": 0})
        waiting = [dataclasses.replace(t, checkpoint=None) for t in tasks]  # no shared disk on a cluster
        running: dict = {}

        def relay() -> None:
            while emit is not None:
                try:
                    emit(events.get_nowait())
                except Empty:
                    return

        try:
            while waiting or running:
                while waiting and len(running) < self.slots:
                    task = waiting.pop(0)
                    on_start(task)
                    ref = self.remote.remote(task, self.data_ref, events, self.evaluator, self.threads)
                    running[ref] = task
                done, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
                relay()
                if cancel is not None:
                    cancel.raise_if_cancelled()
                for ref in done:
                    task = running.pop(ref)
                    yield task, ray.get(ref)
            relay()
        finally:
            for ref in running:
                ray.cancel(ref, force=True)
            try:
                ray.kill(events.actor)
            except Exception:  # noqa: BLE001 - the queue actor may be gone with a lost cluster
                pass

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
