"""``eval.json`` and ``predictions.csv`` of a run folder."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from medvision_app.evaluation.bootstrap import bootstrap_ci
from medvision_app.evaluation.metrics import classification_report
from medvision_app.utils.atomic import atomic_write_text


def evaluate(
    y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str], *, n_resamples: int = 1000, seed: int = 0
) -> dict:
    """:func:`classification_report` plus ``ci`` (bootstrap intervals) and macro F1 at top level."""
    report = classification_report(y_true, probs, class_names)
    report["macro_f1"] = report["macro"]["f1"]
    report["ci"] = bootstrap_ci(y_true, probs, n_resamples=n_resamples, seed=seed)
    return report


def write_eval(path: Path, report: dict) -> None:
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")


def write_predictions(
    path: Path, ids: Sequence[str], y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str]
) -> None:
    """One row per sample: id, true label, predicted label, one probability column per class."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "true_label", "predicted_label", *[f"prob_{n}" for n in class_names]])
    pred = np.asarray(probs).argmax(1)
    for i, sample in enumerate(ids):
        writer.writerow(
            [sample, class_names[int(y_true[i])], class_names[int(pred[i])], *[f"{v:.6f}" for v in probs[i]]]
        )
    atomic_write_text(path, buf.getvalue())
