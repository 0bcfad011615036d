"""Reading what a run or search folder holds, for the dashboard and the reports.

Every file is treated as hostile: a missing or malformed one raises
:class:`RunFolderError`, whose message names the file and the problem.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from medvision_app.errors import UserError


class RunFolderError(UserError, ValueError):
    """A run or search folder cannot be read; ``str()`` names the file and the reason."""


@dataclass
class RunResults:
    """A run folder's test predictions and records.

    ``probs`` is (N, C) float64 in the order of ``classes``; ``y_true`` int
    (N,); ``ids`` the samples' ids as in ``predictions.csv``; ``history`` one
    dict per epoch (``metrics.jsonl``); ``eval`` and ``config`` the JSON files.
    """

    run_dir: Path
    classes: list[str]
    ids: list[str]
    y_true: np.ndarray
    probs: np.ndarray
    config: dict = field(default_factory=dict)
    eval: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def _read_json(path: Path, *, required: bool) -> dict:
    if not path.is_file():
        if required:
            raise RunFolderError(f"{path}: missing")
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{path}: unreadable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path}: expected a JSON object")
    return data


def read_history(path: Path) -> list[dict]:
    """``metrics.jsonl``: one dict per epoch; unreadable lines are an error, an absent file an empty list."""
    if not path.is_file():
        return []
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: unreadable: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RunFolderError(f"{path}: line {number} is not JSON: {exc}") from None
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_predictions(path: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """``predictions.csv`` -> (classes, ids, y_true, probs)."""
    if not path.is_file():
        raise RunFolderError(f"{path}: missing; run `medvision evaluate {path.parent}` to write the test predictions")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RunFolderError(f"{path}: unreadable: {exc}") from None
    if not rows or rows[0][:3] != ["id", "true_label", "predicted_label"] or len(rows[0]) < 5:
        raise RunFolderError(f"{path}: not a predictions table (header id, true_label, predicted_label, prob_...)")
    classes = [h[len("prob_"):] if h.startswith("prob_") else h for h in rows[0][3:]]
    index = {name: i for i, name in enumerate(classes)}
    ids, labels, probs = [], [], []
    for number, row in enumerate(rows[1:], 2):
        if not row:
            continue
        if len(row) != len(rows[0]) or row[1] not in index:
            raise RunFolderError(f"{path}: line {number} has {len(row)} fields or an unknown class {row[1:2]}")
        try:
            values = [float(v) for v in row[3:]]
        except ValueError:
            raise RunFolderError(f"{path}: line {number} has a probability that is not a number") from None
        if not all(np.isfinite(values)):
            raise RunFolderError(f"{path}: line {number} has a probability that is not finite")
        ids.append(row[0])
        labels.append(index[row[1]])
        probs.append(values)
    if not ids:
        raise RunFolderError(f"{path}: holds no predictions")
    return classes, ids, np.asarray(labels, np.int64), np.asarray(probs, np.float64)


def is_run_folder(path: Path) -> bool:
    return (Path(path) / "config.json").is_file() and (Path(path) / "predictions.csv").is_file()


def is_search_folder(path: Path) -> bool:
    return (Path(path) / "state.json").is_file() or (Path(path) / "summary.json").is_file()


def load_run(run_dir: str | Path) -> RunResults:
    """Read a run folder (config, eval, per-sample predictions, training curves)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir}: no such run folder")
    config = _read_json(run_dir / "config.json", required=True)
    classes, ids, y, probs = read_predictions(run_dir / "predictions.csv")
    return RunResults(run_dir, classes, ids, y, probs, config, _read_json(run_dir / "eval.json", required=False),
                      read_history(run_dir / "metrics.jsonl"))


@dataclass
class SearchResults:
    """A search folder's summary (tree, Pareto front, result) and its final run, when retrained."""

    folder: Path
    summary: dict
    history: list[dict]
    final: Optional[RunResults]


def final_run_dir(folder: Path, summary: dict) -> Optional[Path]:
    runs = ((summary.get("final") or {}).get("runs") or []) if isinstance(summary.get("final"), dict) else []
    candidates = [Path(r["run_dir"]) for r in runs if isinstance(r, dict) and r.get("run_dir")]
    candidates += sorted(p for p in folder.glob("final*") if p.is_dir())
    for path in candidates:
        path = path if path.is_absolute() else folder / path.name
        if is_run_folder(path):
            return path
    return None


def load_search(folder: str | Path) -> SearchResults:
    folder = Path(folder)
    if not folder.is_dir():
        raise RunFolderError(f"{folder}: no such search folder")
    summary = _read_json(folder / "summary.json", required=False)
    history = read_history(folder / "history.jsonl")
    if not summary and not history:
        raise RunFolderError(f"{folder}: neither summary.json nor history.jsonl; is this a search folder?")
    final = final_run_dir(folder, summary)
    return SearchResults(folder, summary, history, load_run(final) if final else None)
