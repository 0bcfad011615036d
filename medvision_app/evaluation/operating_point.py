"""The operating point of a two-class model: predictions, confusion matrix and rates at a threshold.

A sample is called positive when the positive class's probability is at or
above the threshold (``>=``, so threshold 0.5 on a two-class softmax agrees
with the arg-max except at exact ties).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medvision_app.evaluation.intervals import confusion, one_vs_rest


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    positive: int
    confusion: np.ndarray  # 2 x 2, rows true, columns predicted, in class order
    sensitivity: float
    specificity: float
    ppv: float
    npv: float

    def as_dict(self) -> dict:
        return {"threshold": self.threshold, "positive": self.positive, "confusion": self.confusion.tolist(),
                "sensitivity": self.sensitivity, "specificity": self.specificity, "ppv": self.ppv, "npv": self.npv}


def predict_at(probs: np.ndarray, threshold: float, positive: int = 1) -> np.ndarray:
    """Class indices (0/1) of a two-class probability table at ``threshold`` on class ``positive``."""
    p = np.asarray(probs, np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"an operating threshold needs two classes, got probabilities of shape {p.shape}")
    if positive not in (0, 1):
        raise ValueError(f"positive class index {positive} must be 0 or 1")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold {threshold} must be within [0, 1]")
    called = p[:, positive] >= threshold
    return np.where(called, positive, 1 - positive).astype(np.int64)


def operating_point(y_true: np.ndarray, probs: np.ndarray, threshold: float, positive: int = 1) -> OperatingPoint:
    y = np.asarray(y_true, np.int64)
    cm = confusion(y, predict_at(probs, threshold, positive), 2)
    rates = {k: float(v[positive]) for k, v in one_vs_rest(cm).items()}
    return OperatingPoint(float(threshold), positive, cm, rates["sensitivity"], rates["specificity"],
                          rates["ppv"], rates["npv"])


def threshold_sweep(y_true: np.ndarray, probs: np.ndarray, thresholds=None, positive: int = 1) -> dict:
    """Sensitivity, specificity, PPV, NPV and Youden's J over ``thresholds`` (default 0, 0.01, ..., 1)."""
    grid = np.linspace(0, 1, 101) if thresholds is None else np.asarray(thresholds, np.float64)
    rows = [operating_point(y_true, probs, float(t), positive) for t in grid]
    out = {"threshold": grid.tolist()}
    for key in ("sensitivity", "specificity", "ppv", "npv"):
        out[key] = [getattr(r, key) for r in rows]
    j = np.asarray(out["sensitivity"]) + np.asarray(out["specificity"]) - 1
    out["youden_j"] = j.tolist()
    out["best_youden_threshold"] = float(grid[int(np.nanargmax(j))])
    return out
