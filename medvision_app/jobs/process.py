"""A job's process seen from its parent: launch it, read its events, cancel it; or follow one already running.

Both :class:`JobProcess` (a child this process started) and
:class:`EventTail` (a job found running in the history, through its run
folder's ``events.jsonl``) answer :meth:`poll` with the event dicts that
arrived since the last call, so a monitor reads either the same way and
never blocks: the GUI drains them on a timer and draws once per drain.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Optional

from medvision_app.jobs.history import JobHistory, pid_alive

CANCEL_GRACE_S = 10.0  # a batch of a large model on the CPU can take seconds


def _parse(line) -> Optional[dict]:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "event" in data else None


class PipeReader:
    """A pipe's JSON event lines, read on a thread in large raw chunks and parsed by whoever polls.

    The thread only moves bytes (``os.read`` releases the GIL while it
    waits); parsing happens in :meth:`poll`, on the caller's thread, in its
    own time. A reader thread that parsed every line itself held the GIL in
    bursts that stalled the window's event loop by 100 ms and more when a
    job streamed thousands of events a second.
    """

    def __init__(self, fd: int, name: str = "job-reader") -> None:
        self._fd = fd
        self._chunks: "queue.Queue[bytes]" = queue.Queue()
        self._partial = b""
        self._lines: deque = deque()
        self.discard = False  # set once nobody listens: the bytes are still read, so the child never blocks
        self.thread = threading.Thread(target=self._read, name=name, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, 1 << 16)
            except OSError:
                return  # closed under us (detach): the job goes on without us
            if not chunk:
                return
            if not self.discard:
                self._chunks.put(chunk)

    def poll(self, limit: Optional[int] = None) -> list[dict]:
        """The events of up to ``limit`` lines (all when None) that arrived; the rest wait for the next call."""
        parts = [self._partial]
        while True:
            try:
                parts.append(self._chunks.get_nowait())
            except queue.Empty:
                break
        if len(parts) > 1:
            lines = b"".join(parts).split(b"\n")
            self._partial = lines.pop()
            self._lines.extend(line for line in lines if line)
        take = len(self._lines) if limit is None else min(limit, len(self._lines))
        return [e for e in (_parse(self._lines.popleft()) for _ in range(take)) if e is not None]

    @property
    def done(self) -> bool:
        """Everything the pipe carried has been read (not necessarily polled)."""
        return not self.thread.is_alive()


def child_command(job_id: int) -> list[str]:
    return [sys.executable, "-m", "medvision_app.jobs.child", str(job_id)]


class JobProcess:
    """A job of the history running in a child process started here."""

    def __init__(self, job_id: int, history: JobHistory, *, env: Optional[dict] = None) -> None:
        self.job_id = job_id
        self.history = history
        record = history.get(job_id)
        self.run_dir = Path(record.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.launched = time.time()
        # stderr (tracebacks, library warnings) to a file in the run folder: a pipe
        # nobody drains would block the child once full.
        self._stderr = open(self.run_dir / f"job-{job_id}.log", "ab")  # noqa: SIM115 - closed in _reap
        self.popen = subprocess.Popen(
            child_command(job_id), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=env, bufsize=0,
            # Its own session: Ctrl-C in the GUI's terminal does not reach it, and
            # a kill of its process group also ends the search's worker processes.
            start_new_session=True,
        )
        self.pid = self.popen.pid
        history.mark_running(job_id, self.pid)
        assert self.popen.stdout is not None
        self._reader = PipeReader(self.popen.stdout.fileno(), name=f"job-{job_id}-reader")
        threading.Thread(target=self._reap, name=f"job-{job_id}-reaper", daemon=True).start()

    def _reap(self) -> None:
        self.popen.wait()
        self._reader.thread.join()
        self._stderr.close()

    def poll(self, limit: Optional[int] = None) -> list[dict]:
        return self._reader.poll(limit)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def finished(self) -> bool:
        """The process has ended and every line it wrote has been read."""
        return not self.alive and self._reader.done

    def cancel(self, grace: float = CANCEL_GRACE_S) -> None:
        """Ask the job to stop at its next batch; SIGTERM, then SIGKILL, if it has not after ``grace`` seconds."""
        try:
            assert self.popen.stdin is not None
            self.popen.stdin.write(b"cancel\n")
            self.popen.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass
        threading.Thread(target=escalate, args=(self.pid, grace), daemon=True, name="job-cancel").start()

    def detach(self) -> None:
        """Stop listening and leave the job running: it keeps writing its run folder and its history row.

        Only stdin closes (the child reads end of input as "nobody will cancel
        me", not as a cancel); stdout stays open and drained until this
        process ends, when the child's writes fail and it carries on.
        """
        self._reader.discard = True
        try:
            if self.popen.stdin is not None:
                self.popen.stdin.close()
        except OSError:
            pass

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._reader.thread.join(timeout)
        return code


def escalate(pid: int, grace: float, *, step: float = 0.1) -> None:
    """SIGTERM the job's process group after ``grace`` seconds, SIGKILL it ``grace`` seconds later."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(step)
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                return


class EventTail:
    """The events of a job that another process runs, read from its ``events.jsonl`` as they are appended."""

    def __init__(self, path: Path, pid: Optional[int] = None) -> None:
        self.path = Path(path)
        self.pid = pid
        self._offset = 0
        self._partial = ""
        self._lines: deque = deque()

    def poll(self, limit: Optional[int] = None) -> list[dict]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
                self._offset = fh.tell()
        except OSError:
            chunk = ""
        if chunk:
            lines = (self._partial + chunk).split("\n")
            self._partial = lines.pop()  # a line still being written
            self._lines.extend(line for line in lines if line)
        take = len(self._lines) if limit is None else min(limit, len(self._lines))
        return [e for e in (_parse(self._lines.popleft()) for _ in range(take)) if e is not None]

    @property
    def alive(self) -> bool:
        return pid_alive(self.pid)

    @property
    def finished(self) -> bool:
        return not self.alive

    def cancel(self, grace: float = CANCEL_GRACE_S) -> None:
        """The process is not ours to message: SIGTERM (the job stops at its next batch), then escalate."""
        if self.pid and pid_alive(self.pid):
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            threading.Thread(target=escalate, args=(self.pid, grace), daemon=True, name="job-cancel").start()

    def detach(self) -> None:
        pass
