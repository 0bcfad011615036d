"""Reliability diagram and expected calibration error (ECE).

Binary models are judged on the positive class's probability (as
``sklearn.calibration.calibration_curve``); models with more classes on the
top-label confidence, the usual multi-class reading (Guo et al. 2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medvision_app.evaluation.metrics import _check


@dataclass(frozen=True)
class Reliability:
    """Equal-width bins over [0, 1]; empty bins have ``count`` 0 and NaN means.

    ``confidence`` is the mean predicted probability in the bin, ``observed``
    the fraction that was right (multi-class) or positive (binary).
    """

    edges: np.ndarray
    confidence: np.ndarray
    observed: np.ndarray
    count: np.ndarray
    ece: float
    mce: float
    kind: str  # "positive class <name>" | "top label"

    def to_dict(self) -> dict:
        def clean(a):
            return [None if not np.isfinite(v) else float(v) for v in a]

        return {"edges": self.edges.tolist(), "confidence": clean(self.confidence), "observed": clean(self.observed),
                "count": self.count.tolist(), "ece": self.ece, "mce": self.mce, "kind": self.kind}


def reliability(y_true: np.ndarray, probs: np.ndarray, *, n_bins: int = 10, positive: int = 1,
                class_names=None) -> Reliability:
    """Reliability diagram data and ECE = sum over bins of (n_b / N) |observed_b - confidence_b|."""
    if n_bins < 1:
        raise ValueError(f"n_bins {n_bins} must be at least 1")
    y, p = _check(y_true, probs)
    if p.shape[1] == 2:
        conf = p[:, positive]
        hit = (y == positive).astype(np.float64)
        name = class_names[positive] if class_names else str(positive)
        kind = f"positive class {name}"
    else:
        conf = p.max(1)
        hit = (p.argmax(1) == y).astype(np.float64)
        kind = "top label"
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # right-closed bins (0.4, 0.5] as scikit-learn's uniform strategy; 0 falls in the first
    which = np.searchsorted(edges[1:-1], conf, side="left")
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, conf, n_bins) / count
        observed = np.bincount(which, hit, n_bins) / count
    gaps = np.abs(observed - mean_conf)
    filled = count > 0
    ece = float(np.sum(count[filled] / len(y) * gaps[filled]))
    mce = float(gaps[filled].max()) if filled.any() else 0.0
    return Reliability(edges, mean_conf, observed, count, ece, mce, kind)
