"""What a search has done so far: one dataclass, saved as ``state.json`` and read back by ``--resume``.

BbNAS fills ``iteration``, ``parents``, ``pending`` and ``rng``; ENAS fills
``epoch``, ``epochs`` and ``baseline``. Candidates stay plain records (the
lines of ``history.jsonl``). The JSON is the version-1 layout the search
wrote before this class existed, so older search folders resume unchanged.
Item access (``state["phase"]``) is kept for the summary and for callers
written against the dict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional

VERSION = 1
_LISTS = ("finished", "pending", "parents", "iterations")


@dataclass
class SearchState:
    method: str
    config: Optional[dict] = None
    n_classes: int = 0
    phase: str = "search"  # search, final (retraining the answer), done
    elapsed: float = 0.0  # search seconds, over every resumed session
    stop_reason: Optional[str] = None
    candidates: dict[str, dict] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    result_id: Optional[str] = None
    iterations: list[dict] = field(default_factory=list)
    final: Optional[dict] = None
    # BbNAS
    iteration: int = -1
    parents: list[str] = field(default_factory=list)
    rng: Optional[dict] = None  # numpy bit generator state of the children's draws
    result_from_interrupted_iteration: Optional[int] = None
    # ENAS
    epoch: int = 0
    epochs: Optional[list[dict]] = None
    baseline: float = 0.0
    result: Optional[dict] = None
    version: int = VERSION

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> "SearchState":
        """Read a state written by :meth:`to_dict` (or by the dict-based search before it).

        Raises ``ValueError`` naming the first field that is missing or of the wrong type.
        """
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        if data.get("version", VERSION) != VERSION:
            raise ValueError(f"state version {data.get('version')!r} is not {VERSION}")
        if not isinstance(data.get("method"), str):
            raise ValueError("no search method")
        if not isinstance(data.get("candidates", {}), dict):
            raise ValueError("candidates is not an object")
        for name in _LISTS:
            if not isinstance(data.get(name, []), list):
                raise ValueError(f"{name} is not a list")
        known = {f.name for f in dataclasses.fields(cls)}
        state = cls(**{k: v for k, v in data.items() if k in known})
        missing = [c for c in state.finished + state.pending if c not in state.candidates]
        if missing:
            raise ValueError(f"candidates {', '.join(missing[:3])} are listed but not recorded")
        return state

    # -- item access, as the dict it replaces ---------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self.__dataclass_fields__:
            raise KeyError(f"a search state has no field {key!r}")
        setattr(self, key, value)

    def __contains__(self, key: str) -> bool:
        return key in self.__dataclass_fields__

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default) if key in self.__dataclass_fields__ else default
