"""What a job is: its kind, the config the CLI takes, and its run folder; and how run folders are named."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from medvision_app.errors import UserError

KINDS = ("train", "search", "evaluate", "export")
EVENTS_NAME = "events.jsonl"


class JobError(UserError):
    """A job that cannot be described, found or acted on; the message names it."""


@dataclass
class JobSpec:
    """One job, complete enough to run again in another process.

    ``config``: for ``train`` a ``TrainConfig`` as a dict, for ``search`` a
    ``SearchConfig`` as a dict (both exactly what ``--config`` takes), for
    ``evaluate`` ``{"split": ...}``, for ``export`` the options of
    ``medvision export`` (``name``, ``version``, ``register``). ``run_dir`` is
    the run or search folder the job writes (``evaluate``/``export``: the run
    they read). ``resume`` continues the run in ``run_dir``.
    ``config_file`` is where the config came from: relative data paths are
    resolved against the project above it, as ``medvision train`` does.
    """

    kind: str
    config: dict = field(default_factory=dict)
    run_dir: str = ""
    name: str = ""
    resume: bool = False
    config_file: Optional[str] = None
    overrides: dict = field(default_factory=dict)  # a resumed search's new budget, iterations or workers

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise JobError(f"job kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not self.run_dir:
            raise JobError(f"{self.kind} job: no run folder")
        if not self.name:
            self.name = Path(self.run_dir).name

    @property
    def device(self) -> str:
        """The device the config asks for (``auto``, ``cpu``, ``cuda``): the queue's key."""
        section = self.config.get("train", {}) if self.kind == "train" else self.config
        return str(section.get("device", "auto")) if isinstance(section, dict) else "auto"

    @property
    def events_path(self) -> Path:
        """Train and search jobs own their folder's ``events.jsonl``; evaluate and export add their own file."""
        if self.kind in ("train", "search"):
            return Path(self.run_dir) / EVENTS_NAME
        return Path(self.run_dir) / f"events-{self.kind}.jsonl"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, where: str = "job") -> "JobSpec":
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JobError(f"{where}: not a job description: {exc}") from None
        if not isinstance(data, dict):
            raise JobError(f"{where}: not a job description")
        try:
            return cls(**data)
        except TypeError as exc:
            raise JobError(f"{where}: not a job description: {exc}") from None


def default_run_dir(kind: str, config: dict, *, now: Optional[float] = None) -> Path:
    """``runs/<model>-<time>`` for training, ``searches/<method>-<time>`` for a search (the CLI's names)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    if kind == "train":
        return Path("runs") / f"{config.get('model', {}).get('name', 'model')}-{stamp}"
    if kind == "search":
        return Path("searches") / f"{config.get('method', 'search')}-{stamp}"
    raise JobError(f"{kind} jobs work on an existing run folder; give it")
