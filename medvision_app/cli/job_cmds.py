"""``medvision jobs list|show|cancel|resume``: the job history the GUI and the CLI share."""

from __future__ import annotations

import argparse
import json
import time

from medvision_app.cli.main import CliError
from medvision_app.jobs.track import progress_text


def register(subparsers) -> None:
    jobs = subparsers.add_parser("jobs", help="list, show, cancel or resume the jobs of the history",
                                 description="The training, search, evaluation and export jobs run from the "
                                 "workstation or the command line, with their status.")
    sub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="every job, oldest first")
    ls.add_argument("--json", action="store_true", help="one JSON array instead of a table")
    ls.set_defaults(func=_list)
    show = sub.add_parser("show", help="one job with its config")
    show.add_argument("job_id", type=int, metavar="ID")
    show.set_defaults(func=_show)
    cancel = sub.add_parser("cancel", help="stop a running job at its next batch (killed if it does not stop)")
    cancel.add_argument("job_id", type=int, metavar="ID")
    cancel.add_argument("--grace", type=float, default=10.0, metavar="SECONDS",
                        help="how long to wait for a clean stop before killing (default 10)")
    cancel.set_defaults(func=_cancel)
    resume = sub.add_parser("resume", help="continue an interrupted, cancelled or failed job here, in the foreground")
    resume.add_argument("job_id", type=int, metavar="ID")
    resume.set_defaults(func=_resume)


def _history():
    from medvision_app.jobs import JobHistory

    return JobHistory()


def _when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "-"


def _list(args: argparse.Namespace) -> int:
    records = _history().list()
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=1))
        return 0
    print(f"{'ID':>4}  {'KIND':<8}  {'STATUS':<11}  {'DONE':>15}  {'STARTED':<16}  {'ON':<7}  {'BEST':<22}  "
          "RUN FOLDER")
    for r in records:
        done = progress_text(r.progress, r.phase)
        best = f"{r.best_metric_name} {r.best_metric:.4f}" if r.best_metric is not None else "-"
        on = r.ran_on or (r.device if r.device != "auto" else "-")
        print(f"{r.id:>4}  {r.kind:<8}  {r.status:<11}  {done:>15}  {_when(r.started):<16}  {on:<7}  {best:<22}  "
              f"{r.run_dir}")
    return 0


def _show(args: argparse.Namespace) -> int:
    print(json.dumps(_history().get(args.job_id).to_dict(), indent=2))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from medvision_app.jobs.history import pid_alive
    from medvision_app.jobs.process import escalate

    history = _history()
    record = history.get(args.job_id)
    if record.status == "queued":
        history.finish(record.id, "cancelled", error="cancelled before it started")
        print(f"job {record.id}: cancelled before it started")
        return 0
    if record.status != "running":
        raise CliError(f"job {record.id}: not running ({record.status})")
    import os
    import signal

    os.kill(record.pid, signal.SIGTERM)  # the job stops cleanly at its next batch
    escalate(record.pid, args.grace)
    if pid_alive(record.pid):
        raise CliError(f"job {record.id}: process {record.pid} did not stop")
    if history.get(record.id).status in ("running", "interrupted"):
        history.finish(record.id, "cancelled", error="killed after the grace period")
    print(f"job {record.id}: {history.get(record.id).status}")
    return 0


def _resume(args: argparse.Namespace) -> int:
    from medvision_app.cli.train_cmds import _ctrl_c_cancels, _loading_bar
    from medvision_app.events import CancelToken
    from medvision_app.jobs.execute import run_recorded
    from medvision_app.jobs.queue import has_run

    history = _history()
    record = history.get(args.job_id)
    if record.status not in ("interrupted", "cancelled", "failed"):
        raise CliError(f"job {record.id}: {record.status}; only an interrupted, cancelled or failed job resumes")
    spec = record.spec
    spec.resume = has_run(spec)
    history.update(record.id, spec=spec)
    cancel = CancelToken()
    with _ctrl_c_cancels(cancel):
        _, status, summary = run_recorded(spec, history=history, job_id=record.id, emit=_loading_bar,
                                          cancel=cancel, progress=True)
    print(json.dumps({"job": record.id, "status": status, **summary}))
    return 130 if status == "cancelled" else 0


