"""Checkpoint files of a run folder: written so a crash keeps a good one, read so a damaged one is set aside.

``checkpoints/last.pt`` is the newest state; before it is replaced, the
one it replaces becomes ``previous.pt``, so a ``last.pt`` damaged later (a
full disk, a copy cut short, a bad sector) still leaves the epoch before.
``best.pt`` holds the best monitored epoch. Every file is read with
``weights_only=True``: a checkpoint is data, never code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

import torch

from medvision_app.training.errors import TrainingError
from medvision_app.utils.atomic import atomic_path

LAST = "last.pt"
PREVIOUS = "previous.pt"
BEST = "best.pt"

# What a resumed run tries, newest first.
RESUME_ORDER = (LAST, PREVIOUS)
# What an evaluation or an export tries: the best epoch, else the newest good state.
WEIGHTS_ORDER = (BEST, LAST, PREVIOUS)


class CheckpointError(TrainingError):
    """A checkpoint file is missing, empty, truncated or not a checkpoint; ``str()`` names it."""


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict with ``weights_only=True``; :class:`CheckpointError` when it cannot be used."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise CheckpointError(f"{path}: the checkpoint is empty (0 bytes)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged file raises EOFError, IndexError, UnpicklingError, RuntimeError...
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{path}: damaged or not a checkpoint ({type(exc).__name__}: {first[:200]})") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise CheckpointError(f"{path}: not a MedVision checkpoint (no model weights in it)")
    return state


def save_checkpoint(state: dict, directory: str | Path, name: str = LAST) -> Path:
    """Write ``state`` atomically as ``directory/name``; the ``last.pt`` it replaces becomes ``previous.pt``."""
    path = Path(directory) / name
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
        if name == LAST and path.is_file():
            # A kill between this rename and the one atomic_path makes leaves previous.pt and no
            # last.pt: the reader falls back to previous.pt, never to a half-written file.
            os.replace(path, path.with_name(PREVIOUS))
    return path


def first_usable(directory: str | Path, names: tuple[str, ...],
                 notice: Callable[[Path, str], None] = lambda path, reason: None,
                 ) -> Optional[tuple[Path, dict]]:
    """The first of ``names`` in ``directory`` that loads, with its state; ``notice(path, reason)`` for each damaged one.

    None when no file loads (or none exists): the caller starts over or
    says there is nothing to use.
    """
    for name in names:
        path = Path(directory) / name
        if not path.exists():
            continue
        try:
            return path, read_checkpoint(path)
        except CheckpointError as exc:
            notice(path, str(exc))
    return None
