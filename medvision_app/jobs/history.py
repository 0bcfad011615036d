"""The job history: one SQLite table in the user's database, shared by the GUI, the CLI and the children.

WAL mode lets a child write its status while the GUI reads the list. A row
whose status is ``running`` but whose process is gone reads as
``interrupted``: the process was killed, or the machine went down, before it
could say how it ended.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Optional

from medvision_app.jobs.spec import JobError, JobSpec
from medvision_app.utils.paths import database_path

STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted")
FINAL = ("done", "failed", "cancelled", "interrupted")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    run_dir TEXT NOT NULL,
    status TEXT NOT NULL,
    device TEXT NOT NULL DEFAULT 'auto',
    pid INTEGER,
    origin TEXT NOT NULL DEFAULT 'gui',
    created REAL NOT NULL,
    started REAL,
    ended REAL,
    progress REAL,
    best_metric REAL,
    best_metric_name TEXT,
    error TEXT,
    phase TEXT,
    ran_on TEXT
)
"""
# Columns added after the first release, with their SQL type: a history written before gets them on open.
_ADDED_COLUMNS = {"phase": "TEXT", "ran_on": "TEXT"}


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: str
    name: str
    spec: JobSpec
    run_dir: str
    status: str
    device: str
    pid: Optional[int]
    origin: str
    created: float
    started: Optional[float]
    ended: Optional[float]
    progress: Optional[float]
    best_metric: Optional[float]
    best_metric_name: Optional[str]
    error: Optional[str]
    phase: Optional[str] = None  # a search's: "search" or "retraining", which ``progress`` is the share of
    # Where it ran: ``device`` is what the job asked for (auto, cpu, cuda), this what that resolved to
    # (cpu, cuda:0; ray for a search on a cluster), once the job has started.
    ran_on: Optional[str] = None

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "spec"}
        out["config"] = self.spec.config
        out["resume"] = self.spec.resume
        return out


def pid_alive(pid: Optional[int]) -> bool:
    """Whether ``pid`` is a live process that is not a zombie."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


class JobHistory:
    """The ``jobs`` table of :func:`database_path` (or ``path``)."""

    def __init__(self, path: Optional[Path] = None) -> None:
        self.path = Path(path) if path is not None else database_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(_SCHEMA)
            have = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in have:
                    try:
                        db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")
                    except sqlite3.OperationalError as exc:  # another process added it since we looked
                        if "duplicate column" not in str(exc):
                            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, timeout=10.0)
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise JobError(f"{self.path}: cannot open the job history: {exc}") from None
        db.row_factory = sqlite3.Row
        return db

    # -- writing ----------------------------------------------------------------------------
    def add(self, spec: JobSpec, *, status: str = "queued", origin: str = "gui", pid: Optional[int] = None) -> int:
        now = time.time()
        # Another process (the child, a later `jobs resume`) runs it from another folder.
        spec = replace(spec, run_dir=str(Path(spec.run_dir).resolve()),
                       config_file=str(Path(spec.config_file).resolve()) if spec.config_file else None)
        with closing(self._connect()) as db, db:
            cur = db.execute(
                "INSERT INTO jobs (kind, name, spec, run_dir, status, device, pid, origin, created, started)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (spec.kind, spec.name, spec.to_json(), str(spec.run_dir), status, spec.device, pid, origin, now,
                 now if status == "running" else None),
            )
            return int(cur.lastrowid)

    def update(self, job_id: int, **values) -> None:
        allowed = {"status", "pid", "started", "ended", "progress", "phase", "best_metric", "best_metric_name", "error",
                   "spec", "ran_on"}
        bad = set(values) - allowed
        if bad:
            raise ValueError(f"unknown job column(s) {sorted(bad)}")
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"unknown job status {values['status']!r}")
        if isinstance(values.get("spec"), JobSpec):
            values["spec"] = values["spec"].to_json()
        cols = ", ".join(f"{k} = ?" for k in values)
        with closing(self._connect()) as db, db:
            db.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*values.values(), job_id))

    def mark_running(self, job_id: int, pid: int) -> None:
        self.update(job_id, status="running", pid=pid, started=time.time(), ended=None, error=None)

    def finish(self, job_id: int, status: str, *, error: str = "", metric: Optional[tuple[str, float]] = None) -> None:
        values: dict = {"status": status, "ended": time.time(), "error": error or None}
        if status == "done":
            values["progress"], values["phase"] = 1.0, None
        if metric is not None:
            values["best_metric_name"], values["best_metric"] = metric
        self.update(job_id, **values)

    # -- reading ----------------------------------------------------------------------------
    def get(self, job_id: int) -> JobRecord:
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobError(f"job {job_id}: no such job in {self.path}")
        return self._record(row)

    def list(self, *, statuses: Optional[tuple[str, ...]] = None) -> list[JobRecord]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY id").fetchall()
        records = [self._record(r) for r in rows]
        return [r for r in records if statuses is None or r.status in statuses]

    def running(self) -> Iterator[JobRecord]:
        return iter(self.list(statuses=("running",)))

    def _record(self, row: sqlite3.Row) -> JobRecord:
        data = dict(row)
        spec = JobSpec.from_json(data.pop("spec"), where=f"job {data['id']}")
        if data["status"] == "running" and not pid_alive(data["pid"]):
            # Nobody marks a SIGKILLed or crashed job: its dead pid says it.
            data["status"] = "interrupted"
        return JobRecord(spec=spec, **data)
