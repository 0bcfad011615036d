"""``python -m medvision_app.jobs.child JOB_ID``: run one job of the history in this process.

The parent reads the job's events as JSON lines on this process's stdout
(the same lines go to the run folder's ``events.jsonl``) and may write
``cancel`` on its stdin. SIGTERM cancels too. When the parent goes away
(the GUI closed and the user chose to leave the job running) the job goes
on: stdout is dropped, the run folder keeps the events.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Optional, TextIO

from medvision_app.events import CancelToken, Event
from medvision_app.jobs.events import JobFinished, JobStarted
from medvision_app.jobs.execute import event_line, run_recorded
from medvision_app.jobs.history import JobHistory

CHILD_NICENESS = 5


class LineOut:
    """Event lines to the parent; silent once the parent has stopped reading."""

    def __init__(self, stream: TextIO) -> None:
        self.stream: Optional[TextIO] = stream
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        self.write(event_line(event))

    def write(self, line: str) -> None:
        with self.lock:
            if self.stream is None:
                return
            try:
                self.stream.write(line)
                self.stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.stream = None


def listen_for_cancel(stream: TextIO, cancel: CancelToken) -> threading.Thread:
    """``cancel`` on stdin cancels; end of input (the parent left) does not."""

    def loop() -> None:
        for line in stream:
            if line.strip() == "cancel":
                cancel.cancel()

    thread = threading.Thread(target=loop, name="job-stdin", daemon=True)
    thread.start()
    return thread


def import_torch() -> float:
    """Import torch now and return how long it took: the share of Launch-to-first-event it costs."""
    start = time.perf_counter()
    import torch  # noqa: F401

    return time.perf_counter() - start


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medvision_app.jobs.child")
    parser.add_argument("job_id", type=int)
    args = parser.parse_args(argv)
    # Below the window in the CPU's queue: on a two-core machine a training job
    # otherwise takes the time slices the window needs to stay smooth.
    try:
        os.nice(CHILD_NICENESS)
    except OSError:
        pass
    history = JobHistory()
    record = history.get(args.job_id)
    out = LineOut(sys.stdout)
    cancel = CancelToken()
    listen_for_cancel(sys.stdin, cancel)

    out(JobStarted(args.job_id, record.kind, os.getpid(), import_torch()))
    try:
        _, status, summary = run_recorded(record.spec, history=history, job_id=args.job_id, emit=out, cancel=cancel)
    except BaseException as exc:  # noqa: BLE001 - the parent must hear how the job ended, whatever ended it
        out(JobFinished(args.job_id, "failed", error=str(exc) or type(exc).__name__))
        import traceback

        traceback.print_exc()
        return 1
    out(JobFinished(args.job_id, status, summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
