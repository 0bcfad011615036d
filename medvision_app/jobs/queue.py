"""Queued jobs start when their device is free: one job per device at a time unless configured otherwise.

The queue holds no thread of its own: whoever owns it (the GUI on a timer,
a test in a loop) calls :meth:`JobQueue.tick`, which starts what can start
and returns the new processes. Jobs running in other processes (a CLI run,
a job left running by a closed GUI) count against their device too.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, Optional

from medvision_app.jobs.history import JobHistory
from medvision_app.jobs.process import JobProcess
from medvision_app.jobs.spec import JobSpec


def has_run(spec: JobSpec) -> bool:
    """Whether the job's folder holds something to resume (a train run's config, a search's state).

    A train run killed before its first checkpoint has only ``config.json``:
    resuming it starts again from epoch 1 (a fresh start would be refused,
    the folder already holding a run).
    """
    folder = Path(spec.run_dir)
    if spec.kind == "train":
        return (folder / "config.json").is_file()
    if spec.kind == "search":
        return (folder / "state.json").is_file()
    return False


MAX_PER_DEVICE = 16


@functools.lru_cache(maxsize=1)
def has_accelerator() -> bool:
    """Whether this machine shows an NVIDIA device node: asked without torch, which the GUI never imports."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


def device_key(device: str) -> str:
    """The slot a job takes: ``cuda`` the accelerator's, ``cpu`` the CPU's, ``auto`` the accelerator's when
    there is one and the CPU's otherwise (where an ``auto`` and a ``cpu`` job would share the same cores)."""
    if device == "cpu" or (device == "auto" and not has_accelerator()):
        return "cpu"
    return "gpu"


class JobQueue:
    def __init__(self, history: JobHistory, *, per_device: Optional[dict[str, int]] = None,
                 launch: Optional[Callable[[int, JobHistory], JobProcess]] = None) -> None:
        self.history = history
        self.per_device = {"gpu": 1, "cpu": 1, **(per_device or {})}
        self._launch = launch or (lambda job_id, hist: JobProcess(job_id, hist))

    def set_limit(self, device: str, jobs: int) -> None:
        """Let ``jobs`` jobs run at once on ``device`` (``cpu`` or ``gpu``); queued ones wait for a free slot."""
        if device not in ("cpu", "gpu"):
            raise ValueError(f"device {device!r}: expected cpu or gpu")
        if not 1 <= int(jobs) <= MAX_PER_DEVICE:
            raise ValueError(f"{jobs} jobs at a time on {device}: expected 1 to {MAX_PER_DEVICE}")
        self.per_device[device] = int(jobs)

    def submit(self, spec: JobSpec) -> int:
        """Record ``spec`` as queued; :meth:`tick` starts it."""
        return self.history.add(spec, status="queued", origin="gui")

    def tick(self) -> list[JobProcess]:
        records = self.history.list(statuses=("queued", "running"))
        busy: dict[str, int] = {}
        for r in records:
            if r.status == "running":
                busy[device_key(r.device)] = busy.get(device_key(r.device), 0) + 1
        started = []
        for r in records:
            if r.status != "queued":
                continue
            key = device_key(r.device)
            if busy.get(key, 0) >= self.per_device.get(key, 1):
                continue
            busy[key] = busy.get(key, 0) + 1
            started.append(self._launch(r.id, self.history))
        return started

    def requeue(self, job_id: int, *, resume: bool = True) -> None:
        """Queue an interrupted, cancelled or failed job again, continuing its run folder when ``resume``."""
        record = self.history.get(job_id)
        spec = record.spec
        # Resume only what got far enough to leave a run behind; else start it over.
        spec.resume = resume and has_run(spec)
        self.history.update(job_id, status="queued", spec=spec, pid=None, ended=None, error=None)
