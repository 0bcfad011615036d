"""The one-line JSON summary a finished job prints, read back from its run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

EVAL_KEYS = ("split", "accuracy", "balanced_accuracy", "auc")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def train_summary(run_dir: Path, epochs: int, reason: str) -> dict:
    """What ``medvision train`` prints: the folder, epochs, why it stopped, and the test metrics."""
    summary = {"run_dir": str(run_dir), "epochs": epochs, "stopped": reason}
    report = _read_json(Path(run_dir) / "eval.json")
    summary.update({k: report.get(k) for k in EVAL_KEYS if report})
    return summary


def search_summary(out: Path, summary: dict) -> dict:
    """What ``medvision search`` prints: the result, its size and accuracy, and the retrained run folders."""
    final = summary.get("final") or {}
    result = summary.get("result") or {}
    return {"search_dir": str(out), "stop_reason": summary.get("stop_reason"),
            "genotype": result.get("genotype"), "params": result.get("params"),
            "val_accuracy": result.get("val_accuracy"), "final": final.get("runs")}


def skipped_images(run_dir: Path) -> Optional[int]:
    """How many images the run left out as unreadable (``skipped.csv``), or None."""
    path = Path(run_dir) / "skipped.csv"
    if not path.is_file():
        return None
    return max(0, len(path.read_text(encoding="utf-8").splitlines()) - 1)


def best_metric(kind: str, summary: dict) -> Optional[tuple[str, float]]:
    """The figure the history shows for a finished job: test accuracy, else the search's validation accuracy."""
    if kind == "search":
        runs = summary.get("final") or []
        if runs and runs[0].get("accuracy") is not None:
            return "test_accuracy", float(runs[0]["accuracy"])
        if summary.get("val_accuracy") is not None:
            return "val_accuracy", float(summary["val_accuracy"])
        return None
    if summary.get("accuracy") is not None:
        return f"{summary.get('split') or 'test'}_accuracy", float(summary["accuracy"])
    return None
