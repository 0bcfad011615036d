"""Small handlers that attach to a :class:`~medvision_app.training.engine.Trainer`.

Attach order matters where handlers depend on each other: attach
:class:`EarlyStopping` before :class:`Checkpointer` so that the checkpoint
of an epoch holds the stopping state decided in that epoch, and
:class:`MetricsLogger` before :class:`Checkpointer` so that a crash between
the two repeats the log line rather than losing it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional, TextIO

from medvision_app.training.checkpoints import BEST, LAST, save_checkpoint
from medvision_app.training.engine import monitor_mode
from medvision_app.training.events import (
    BatchProgress,
    CheckpointSaved,
    EpochFinished,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
)
from medvision_app.utils.atomic import atomic_write_text


class EarlyStopping:
    """Stops the run when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.best: Optional[float] = None
        self.wait = 0

    def attach(self, engine) -> None:
        self.engine = engine
        engine.on(EpochFinished, self._on_epoch)
        engine.register_state("early_stopping", self)

    def _on_epoch(self, event: EpochFinished) -> None:
        monitor = self.monitor if self.monitor in event.metrics else "train_loss"
        value = event.metrics.get(monitor)
        if value is None:
            return
        if monitor_mode(monitor) == "min":
            improved = self.best is None or value < self.best - self.min_delta
        else:
            improved = self.best is None or value > self.best + self.min_delta
        if improved:
            self.best, self.wait = float(value), 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.engine.stop_reason = "early stopping"

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.wait = state["best"], int(state["wait"])


class Checkpointer:
    """Writes ``last.pt`` after every epoch and ``best.pt`` when the engine's best epoch improves.

    Both are written atomically, so a kill mid-write leaves the previous
    file, and the replaced ``last.pt`` is kept as ``previous.pt``
    (:mod:`~medvision_app.training.checkpoints`). ``best.pt`` is written
    first: a kill between the two files then leaves a ``last.pt`` one epoch
    behind, whose re-run redoes the same best epoch, rather than a
    ``last.pt`` that names a best epoch ``best.pt`` never received.
    A failed or cancelled run leaves the last good checkpoint as it was.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def attach(self, engine) -> None:
        self.engine = engine
        engine.on(EpochFinished, self._on_epoch)

    def _on_epoch(self, event: EpochFinished) -> None:
        state = self.engine.state_dict()
        best = None
        if self.engine.best_epoch == event.epoch:
            best = save_checkpoint(state, self.directory, BEST)
        path = save_checkpoint(state, self.directory, LAST)
        self.engine.fire(CheckpointSaved(event.epoch, str(path), best=False))
        if best is not None:
            self.engine.fire(CheckpointSaved(event.epoch, str(best), best=True))


class MetricsLogger:
    """Appends one JSON line per epoch to ``metrics.jsonl``.

    On resume, lines of epochs after the checkpoint (written before a crash
    that came before the checkpoint) are dropped so each epoch appears once.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def attach(self, engine) -> None:
        engine.on(RunStarted, self._on_start)
        engine.on(EpochFinished, self._on_epoch)

    def _on_start(self, event: RunStarted) -> None:
        lines = []
        if event.start_epoch and self.path.exists():
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                row = _parse(line)
                # A torn line (killed mid-append) or one past the checkpoint is dropped: each epoch once.
                if row is not None and row.get("epoch", 0) <= event.start_epoch:
                    lines.append(line)
        atomic_write_text(self.path, "".join(f"{line}\n" for line in lines))

    def _on_epoch(self, event: EpochFinished) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event.metrics) + "\n")


def _parse(line: str) -> Optional[dict]:
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) else None


class ProgressBar:
    """A one-line progress bar on a terminal (a line per epoch when not a terminal)."""

    def __init__(self, stream: Optional[TextIO] = None, width: int = 24) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())

    def attach(self, engine) -> None:
        engine.on(RunStarted, self._on_start)
        engine.on(BatchProgress, self._on_batch)
        engine.on(EpochFinished, self._on_epoch)
        engine.on(RunFinished, self._on_end)
        engine.on(RunCancelled, self._on_end)
        engine.on(RunFailed, self._on_end)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _on_start(self, event: RunStarted) -> None:
        resumed = f", resuming after epoch {event.start_epoch}" if event.start_epoch else ""
        self._write(
            f"training on {event.device}: {event.train_samples} train / {event.val_samples} val samples, "
            f"{event.epochs} epochs{resumed}\n"
        )

    def _on_batch(self, event: BatchProgress) -> None:
        if not self.live:
            return
        filled = int(self.width * event.batch / event.batches)
        bar = "#" * filled + "." * (self.width - filled)
        self._write(f"\repoch {event.epoch} [{bar}] {event.batch}/{event.batches} loss {event.loss:.4f}")

    def _on_epoch(self, event: EpochFinished) -> None:
        m = event.metrics
        parts = [f"epoch {event.epoch}/{event.epochs}", f"loss {m['train_loss']:.4f}"]
        for key in ("val_loss", "val_accuracy", "val_auc"):
            if m.get(key) is not None:
                parts.append(f"{key} {m[key]:.4f}")
        parts.append(f"{m['seconds']:.1f}s")
        self._write(("\r" if self.live else "") + "  ".join(parts) + (" " * 8 if self.live else "") + "\n")

    def _on_end(self, event) -> None:
        if isinstance(event, RunFinished):
            self._write(f"{event.reason} after {event.epochs_run} epoch(s)\n")
        elif isinstance(event, RunCancelled):
            self._write(f"\ncancelled after epoch {event.epoch}\n")
        else:
            self._write(f"\nfailed: {event.reason}\n")
