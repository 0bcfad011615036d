"""The search folder on disk: state, history and best model, each written atomically."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Optional

from medvision_app.errors import UserError
from medvision_app.events import CancelToken
from medvision_app.search.search_state import SearchState
from medvision_app.utils.atomic import atomic_path, atomic_write_text

STATE = "state.json"
HISTORY = "history.jsonl"
BEST = "best.json"
WEIGHTS = "weights"  # finished candidates' best weights, kept while a child may inherit them
HISTORY_KEYS = ("iteration", "id", "parent_id", "transformation", "genotype", "params", "flops",
                "val_accuracy", "loss", "epochs", "seconds", "inherited", "preserved", "discarded", "halted")


class SearchStateError(UserError, ValueError):
    """A search folder cannot be resumed; the message says why."""


def save_state(folder: Path, state: SearchState) -> None:
    """Write ``state.json`` and re-derive ``history.jsonl`` from it, both atomically.

    The history is rewritten whole rather than appended so that it can never
    hold a line the state does not (a kill between the two writes leaves the
    older, consistent pair).
    """
    lines = [json.dumps({k: state["candidates"][cid].get(k) for k in HISTORY_KEYS}) for cid in state.get("finished", [])]
    atomic_write_text(folder / HISTORY, "".join(line + "\n" for line in lines))
    data = state.to_dict() if isinstance(state, SearchState) else state
    atomic_write_text(folder / STATE, json.dumps(data, indent=1))


def write_weights(folder: Path, candidate_id: str, weights: bytes) -> None:
    """A finished candidate's best weights (the bytes a worker returned), written atomically."""
    path = Path(folder) / WEIGHTS / f"{candidate_id}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(weights)


def read_weights(folder: Path, candidate_id: str) -> Optional[bytes]:
    """Those bytes again, or None when they are gone (a child then trains from scratch)."""
    path = Path(folder) / WEIGHTS / f"{candidate_id}.pt"
    try:
        return path.read_bytes()
    except OSError:
        return None


def load_state(folder: Path) -> SearchState:
    path = Path(folder) / STATE
    if not path.is_file():
        raise SearchStateError(f"{folder}: no {STATE}; is this a search folder?")
    try:
        return SearchState.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError) as exc:
        raise SearchStateError(f"{path}: unreadable search state: {exc}") from None


def read_history(folder: Path) -> list[dict]:
    path = Path(folder) / HISTORY
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class BudgetToken(CancelToken):
    """A cancel token that also fires when the time budget runs out or the user cancels.

    Work in flight (a candidate's epoch, an ENAS step) sees one token; whether
    the stop was the budget or the user is read back from :attr:`reason`.
    """

    def __init__(self, user: Optional[CancelToken], seconds_left: Optional[float]) -> None:
        super().__init__()
        self.reason: Optional[str] = None
        self._user = user
        self._deadline = None if seconds_left is None else time.monotonic() + seconds_left
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            if self._user is not None and self._user.cancelled:
                self.reason = "cancelled"
            elif self._deadline is not None and time.monotonic() >= self._deadline:
                self.reason = "time budget"
            if self.reason:
                self.cancel()
                return

    def close(self) -> None:
        self._stop.set()
