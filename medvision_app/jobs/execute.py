"""Run a job in this process: the one function the CLI, the child process and the tests share.

:func:`execute` turns a :class:`JobSpec` into the training, search,
evaluation or export call, appends every event to the job's
``events.jsonl`` and returns ``(status, summary)``. :func:`run_recorded`
does the same and keeps the job's row in the history up to date.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Optional

from medvision_app.events import Cancelled, CancelToken, Emit, Event, ignore
from medvision_app.jobs.history import JobHistory
from medvision_app.jobs.spec import JobError, JobSpec
from medvision_app.jobs.summary import best_metric, search_summary, train_summary
from medvision_app.jobs.track import JobTrack, search_plan


def event_line(event: Event) -> str:
    """One JSON line: the event's fields, its ``event`` name and the wall time ``t`` it was sent."""
    data = event.to_dict()
    data["t"] = round(time.time(), 3)
    return json.dumps(data, default=_plain) + "\n"


def _plain(value):
    # numpy scalars and paths in event fields
    if hasattr(value, "item"):
        return value.item()
    return str(value)


class EventLog:
    """Appends events to a run folder's ``events.jsonl``, one flushed line each, so a reader can tail it.

    The folder is the job's to create: until it exists the lines wait in
    memory, so a run refused before it starts (a missing weights file)
    leaves no folder behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = None
        self._pending: list[str] = []

    def write(self, line: str) -> None:
        if self._fh is None:
            if not self.path.parent.is_dir():
                self._pending.append(line)
                return
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
            line = "".join(self._pending) + line
            self._pending = []
        self._fh.write(line)
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


@contextlib.contextmanager
def sigterm_cancels(cancel: CancelToken):
    """SIGTERM stops the job at its next batch, as the first Ctrl-C does; a second SIGTERM ends it at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum, _frame):
        cancel.cancel()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def execute(spec: JobSpec, *, emit: Emit = ignore, cancel: Optional[CancelToken] = None,
            progress: bool = False) -> tuple[str, dict]:
    """Run ``spec`` here; return ``("done" | "cancelled", summary)``. Errors propagate."""
    cancel = cancel or CancelToken()
    log = EventLog(spec.events_path)

    def relay(event: Event) -> None:
        log.write(event_line(event))
        emit(event)

    try:
        return _dispatch(spec, relay, cancel, progress)
    except Cancelled:
        return "cancelled", {"run_dir": spec.run_dir, "stopped": "cancelled"}
    finally:
        log.close()


def _dispatch(spec: JobSpec, emit: Emit, cancel: CancelToken, progress: bool) -> tuple[str, dict]:
    run_dir = Path(spec.run_dir)
    if spec.kind == "train":
        from medvision_app.training.config import TrainConfig
        from medvision_app.training.run import resume_run, start_run
        from medvision_app.utils.config_io import from_dict

        if spec.resume:
            result = resume_run(run_dir, emit=emit, cancel=cancel, progress=progress)
        else:
            config = from_dict(TrainConfig, spec.config, where=spec.config_file or "config")
            config_file = Path(spec.config_file) if spec.config_file else None
            result = start_run(config, run_dir, config_file=config_file, emit=emit, cancel=cancel, progress=progress)
        status = "cancelled" if result.reason == "cancelled" else "done"
        return status, train_summary(run_dir, result.epochs_run, result.reason)
    if spec.kind == "search":
        from medvision_app.search import resume_search, start_search
        from medvision_app.search.config import SearchConfig
        from medvision_app.utils.config_io import from_dict

        if spec.resume:
            summary = resume_search(run_dir, emit=emit, cancel=cancel, overrides=spec.overrides)
        else:
            summary = start_search(from_dict(SearchConfig, spec.config, where=spec.config_file or "search"),
                                   run_dir, emit=emit, cancel=cancel)
        return "done", search_summary(run_dir, summary)
    if spec.kind == "evaluate":
        from medvision_app.training.run import evaluate_run

        report = evaluate_run(run_dir, spec.config.get("split", "test"), emit=emit, cancel=cancel)
        return "done", {"run_dir": str(run_dir), **{k: report.get(k) for k in
                        ("split", "accuracy", "balanced_accuracy", "auc", "macro_f1")}}
    if spec.kind == "export":
        return "done", _export(spec, run_dir)
    raise JobError(f"job kind {spec.kind!r} cannot run")


def _export(spec: JobSpec, run_dir: Path) -> dict:
    from medvision_app.inference.run_export import export_run

    opts = spec.config
    result = export_run(run_dir, None, checkpoint=opts.get("checkpoint", "best"), name=opts.get("name"),
                        version=str(opts.get("version", "1")))
    summary = {"run_dir": str(run_dir), "model": str(result.path), "name": result.card.name}
    if opts.get("register", True):
        from medvision_app.inference.registry import ModelRegistry

        summary["registered"] = str(ModelRegistry().import_model(result.path, name=opts.get("name"), overwrite=True))
    return summary


def run_recorded(spec: JobSpec, *, history: Optional[JobHistory] = None, job_id: Optional[int] = None,
                 origin: str = "cli", emit: Emit = ignore, cancel: Optional[CancelToken] = None,
                 progress: bool = False) -> tuple[int, str, dict]:
    """:func:`execute`, with the job's row in the history kept current; returns ``(job_id, status, summary)``.

    A new row is added when ``job_id`` is None (a CLI job). The row says
    ``running`` with this process's pid while it runs, then ``done``,
    ``cancelled`` or ``failed`` with the error; a process killed on the way
    leaves ``running`` with a dead pid, which reads as ``interrupted``.
    """
    history = history or JobHistory()
    cancel = cancel or CancelToken()
    if job_id is None:
        job_id = history.add(spec, status="running", origin=origin, pid=os.getpid())
    else:
        history.mark_running(job_id, os.getpid())

    # A search's progress comes from its bounds (budget, ENAS epochs, retraining epochs), as the monitor shows it.
    search = JobTrack(plan=search_plan(spec.config)) if spec.kind == "search" else None
    written: Optional[tuple] = None  # the (phase, share) last written, so the history is not rewritten per event

    if search is not None:
        history.update(job_id, ran_on=_search_device(spec))

    def track(event: Event) -> None:
        nonlocal written
        if event.kind == "RunStarted":  # a training says where it landed (auto -> cpu or cuda:0)
            history.update(job_id, ran_on=str(event.to_dict().get("device")))
        if search is not None:
            search.feed([{**event.to_dict(), "t": time.time()}])
            now = (search.phase, None if search.fraction is None else round(search.fraction, 2))
            if search.fraction is not None and now != written:
                written = now
                history.update(job_id, progress=search.fraction, phase=search.phase or None)
        else:
            fraction = _fraction(event)  # a training's epochs
            if fraction is not None:
                history.update(job_id, progress=fraction)
        emit(event)

    try:
        with sigterm_cancels(cancel):
            status, summary = execute(spec, emit=track, cancel=cancel, progress=progress)
    except KeyboardInterrupt:
        history.finish(job_id, "cancelled", error="interrupted")
        raise
    except BaseException as exc:
        history.finish(job_id, "failed", error=str(exc) or type(exc).__name__)
        raise
    history.finish(job_id, status, metric=best_metric(spec.kind, summary) if status == "done" else None)
    return job_id, status, summary


def _search_device(spec: JobSpec) -> str:
    """Where a search's candidates train: ``ray``, or the device its ``device`` setting resolves to here."""
    from medvision_app.search.config import candidates_on_ray

    config = {**spec.config, **{k: v for k, v in (spec.overrides or {}).items() if k in ("device", "executor")}}
    if candidates_on_ray(config.get("method"), config.get("executor")):
        return "ray"
    try:
        from medvision_app.training.engine import resolve_device

        return str(resolve_device(str(config.get("device") or "auto")))
    except Exception:  # noqa: BLE001 - a device that is not there: the search itself refuses it, by name
        return str(config.get("device"))


def _fraction(event: Event) -> Optional[float]:
    data = event.to_dict()
    if event.kind == "EpochFinished" and data.get("epochs"):
        return min(1.0, data["epoch"] / data["epochs"])
    return None


def run_for_cli(spec: JobSpec, *, emit: Emit = ignore, cancel: Optional[CancelToken] = None,
                progress: bool = False) -> tuple[str, dict]:
    """The CLI's way in: recorded in the history when it opens, run all the same (with a warning) when it does not."""
    import sys

    try:
        history = JobHistory()
    except JobError as exc:
        print(f"warning: this job is not recorded: {exc}", file=sys.stderr)
        return execute(spec, emit=emit, cancel=cancel, progress=progress)
    _, status, summary = run_recorded(spec, history=history, origin="cli", emit=emit, cancel=cancel,
                                      progress=progress)
    return status, summary
