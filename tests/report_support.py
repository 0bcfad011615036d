"""A run folder built from a fixed prediction table, for the report and dashboard tests (no training)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from medvision_app.evaluation import evaluate, write_eval, write_predictions


def fixed_predictions(n: int = 160, k: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.3
    p = np.exp(logits)
    return y, p / p.sum(1, keepdims=True)


def make_run(folder: Path, *, classes=("malignant", "benign"), n: int = 160, seed: int = 0) -> Path:
    """A run folder as ``medvision train`` leaves it, minus the checkpoints."""
    folder.mkdir(parents=True, exist_ok=True)
    y, p = fixed_predictions(n, len(classes), seed)
    config = {
        "description": "fixture run",
        "data": {"path": "/data/breastmnist.npz", "split": {"ratios": [0.7, 0.15, 0.15], "seed": 0,
                                                          "use_predefined": True}},
        "model": {"name": "pnet", "input_size": 28, "in_channels": 1, "pretrained": "none"},
        "train": {"epochs": 3, "batch_size": 32, "lr": 0.001, "optimizer": "adam", "loss": "ce", "seed": 0},
        "preprocessing": {"steps": []},
        "augmentation": {"description": "flips"},
        "run": {"classes": list(classes), "train_samples": 500, "val_samples": 70, "test_samples": n},
    }
    (folder / "config.json").write_text(json.dumps(config))
    write_predictions(folder / "predictions.csv", [f"test_{i:05d}" for i in range(n)], y, p, list(classes))
    report = evaluate(y, p, list(classes), n_resamples=50)
    report["split"] = "test"
    write_eval(folder / "eval.json", report)
    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_accuracy": 0.6 + e / 20, "val_auc": 0.7}
               for e in range(1, 4)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
    return folder


def make_search(folder: Path) -> Path:
    """A search folder as ``medvision search`` leaves it: history, summary, and the retrained final run."""
    folder.mkdir(parents=True, exist_ok=True)
    history = []
    for i in range(6):
        history.append({"iteration": i // 2, "id": i, "parent_id": None if i < 2 else i - 2,
                        "transformation": "widen" if i % 2 else "deepen", "genotype": f"C{16 + 8 * i}-SE-P",
                        "params": 1000 * (i + 1), "val_accuracy": 0.6 + 0.05 * (i % 3), "loss": 0.5})
    (folder / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
    final = make_run(folder / "final")
    summary = {"method": "se-bbnas", "stop_reason": "budget", "candidates": len(history),
               "result": history[2], "final": {"runs": [{"run_dir": str(final)}]},
               "pareto_front": [{k: history[i][k] for k in ("id", "genotype", "params", "val_accuracy")} for i in (0, 1, 2)]}
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder
