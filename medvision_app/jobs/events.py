"""Events of the job itself, around the training or search events it relays."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from medvision_app.events import Event


@dataclass(frozen=True)
class JobStarted(Event):
    job_id: Optional[int]
    job_kind: str
    pid: int
    # Seconds the process spent importing torch before its first event: most of
    # the wait between Launch and the first curve point.
    import_seconds: float = 0.0


@dataclass(frozen=True)
class JobFinished(Event):
    job_id: Optional[int]
    status: str  # done, failed or cancelled
    summary: dict = field(default_factory=dict)
    error: str = ""
