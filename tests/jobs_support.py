"""Tiny jobs for the job-layer and monitor tests: seconds each on one CPU thread."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def tiny_train_config(data: Path, *, epochs: int = 2, limit: int = 48) -> dict:
    """P-NET at 28 px with a 16-unit head on BreastMNIST, ``limit`` images per split."""
    return {
        "data": {"path": str(data), "limit": limit},
        "model": {"name": "pnet", "pretrained": "none", "input_size": 28, "in_channels": 1, "dense_units": 16},
        "train": {"epochs": epochs, "batch_size": 16, "cpu_threads": 1, "progress_every": 1, "device": "cpu",
                  "early_stopping": {"enabled": False}},
    }


def tiny_npz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 32), ("val", 16), ("test", 16)):
        y = np.arange(n) % 2
        x = (rng.random((n, 12, 12)) * 80).astype(np.uint8)
        x[y == 1, 3:9, 3:9] += 150
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = x, y.reshape(-1, 1)
    np.savez(path, **arrays)
    return path


def tiny_search_config(data: Path) -> dict:
    return {"method": "bbnas", "data": str(data), "children_per_iteration": 2, "max_iterations": 1, "seed": 5,
            "device": "cpu", "candidate": {"max_epochs": 1, "patience": 1, "batch_size": 16},
            "final": {"epochs": 1, "batch_size": 16}}


def collect(proc, until, timeout: float = 120.0, events: list | None = None) -> list[dict]:
    """Poll ``proc`` until ``until(event)`` holds for one event (or the process ends); return every event seen."""
    events = [] if events is None else events
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = proc.poll()
        events.extend(fresh)
        if any(until(e) for e in fresh):
            return events
        if proc.finished:
            events.extend(proc.poll())
            return events
        time.sleep(0.05)
    raise AssertionError(f"no matching event within {timeout} s; saw {[e['event'] for e in events][-10:]}")
