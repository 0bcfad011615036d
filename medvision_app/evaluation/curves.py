"""ROC and precision-recall curves with bootstrap 95 % bands, and the intervals of their areas.

scikit-learn draws both curves but has no confidence band (its issue #25856);
the bands here are pointwise percentile intervals of the bootstrap curves
interpolated onto a fixed grid (vertical averaging, Fawcett 2006). The curve
itself is computed here with numpy rather than ``sklearn.metrics.roc_curve``:
the same algorithm (sort, cumulate, keep distinct thresholds), about 10x
faster per call, which is what makes 1,000 resamples of two curves per
class fit in the report's time budget. The tests check both curves and both
areas against scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

GRID = np.linspace(0.0, 1.0, 101)


def threshold_counts(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives at each distinct threshold, highest threshold first."""
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    pos = positive[order].astype(np.float64)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(pos)[last]
    fps = (last + 1) - tps
    return tps, fps, s[last]


def roc_curve(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) as ``sklearn.metrics.roc_curve(drop_intermediate=False)``; (0, 0) first."""
    tps, fps, thr = threshold_counts(np.asarray(positive, bool), np.asarray(scores, np.float64))
    tpr = np.r_[0.0, tps / tps[-1]] if tps[-1] else np.r_[0.0, np.zeros_like(tps)]
    fpr = np.r_[0.0, fps / fps[-1]] if fps[-1] else np.r_[0.0, np.zeros_like(fps)]
    return fpr, tpr, np.r_[np.inf, thr]


def pr_curve(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds) as ``sklearn.metrics.precision_recall_curve``.

    Ordered by increasing threshold, ending at precision 1, recall 0 (as scikit-learn).
    """
    tps, fps, thr = threshold_counts(np.asarray(positive, bool), np.asarray(scores, np.float64))
    precision = tps / (tps + fps)
    recall = tps / tps[-1] if tps[-1] else np.ones_like(tps)
    # reversed, with (1, 0) appended, as scikit-learn (>= 1.3 keeps the points past full recall)
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thr[::-1]


def average_precision(positive: np.ndarray, scores: np.ndarray) -> float:
    """Step-wise area under the PR curve, as ``sklearn.metrics.average_precision_score``."""
    precision, recall, _ = pr_curve(positive, scores)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def _trapezoid(x: np.ndarray, y: np.ndarray) -> float:
    # np.trapezoid is numpy 2 only; the project still allows 1.26
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(positive, scores)
    return _trapezoid(fpr, tpr)


def _tpr_on_grid(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    # the highest TPR reached at each FPR (the ROC step's upper corner)
    return np.interp(GRID, fpr, tpr, left=0.0, right=1.0)


def _precision_on_grid(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    # recall decreases along the arrays; interp needs it increasing
    return np.interp(GRID, recall[::-1], precision[::-1])


@dataclass(frozen=True)
class CurveBand:
    """A curve on :data:`GRID` with its bootstrap band, its area and the area's interval.

    ``x`` is the grid (FPR for ROC, recall for PR); ``y``, ``low``, ``high``
    the curve and its pointwise band; ``raw_x``/``raw_y`` the exact curve of
    the full sample; ``area`` the AUC (ROC) or average precision (PR).
    """

    kind: str  # "roc" | "pr"
    label: str
    x: np.ndarray
    y: np.ndarray
    low: np.ndarray
    high: np.ndarray
    raw_x: np.ndarray
    raw_y: np.ndarray
    area: float
    area_low: Optional[float]
    area_high: Optional[float]
    prevalence: float

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "label": self.label, "area": self.area,
            "area_low": self.area_low, "area_high": self.area_high, "prevalence": self.prevalence,
            "x": self.x.tolist(), "y": self.y.tolist(), "low": self.low.tolist(), "high": self.high.tolist(),
        }


def curves_with_bands(
    positive: np.ndarray,
    scores: np.ndarray,
    *,
    label: str = "",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[CurveBand, CurveBand]:
    """The ROC and PR curves of one class (one-vs-rest) with percentile bootstrap bands.

    Resamples that hold a single class are skipped (neither curve exists
    there). Raises ValueError when the full sample holds a single class.
    """
    pos = np.asarray(positive, bool).reshape(-1)
    s = np.asarray(scores, np.float64).reshape(-1)
    if len(pos) != len(s):
        raise ValueError(f"{len(pos)} labels but {len(s)} scores")
    if pos.all() or not pos.any():
        raise ValueError(f"class {label or '?'}: both positives and negatives are needed for ROC and PR curves")
    fpr, tpr, _ = roc_curve(pos, s)
    precision, recall, _ = pr_curve(pos, s)
    rng = np.random.default_rng(seed)
    n = len(pos)
    roc_rows, pr_rows, aucs, aps = [], [], [], []
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        p, sc = pos[idx], s[idx]
        if p.all() or not p.any():
            continue
        f, t, _ = roc_curve(p, sc)
        pr, rc, _ = pr_curve(p, sc)
        roc_rows.append(_tpr_on_grid(f, t))
        pr_rows.append(_precision_on_grid(pr, rc))
        aucs.append(_trapezoid(f, t))
        aps.append(-np.sum(np.diff(rc) * pr[:-1]))
    alpha = (1 - confidence) / 2

    def band(rows, fallback):
        if not rows:
            return fallback, fallback
        q = np.quantile(np.vstack(rows), [alpha, 1 - alpha], axis=0)
        return q[0], q[1]

    def interval(values):
        if not values:
            return None, None
        low, high = np.quantile(values, [alpha, 1 - alpha])
        return float(low), float(high)

    roc_y, pr_y = _tpr_on_grid(fpr, tpr), _precision_on_grid(precision, recall)
    auc = _trapezoid(fpr, tpr)
    ap = float(-np.sum(np.diff(recall) * precision[:-1]))
    prevalence = float(pos.mean())
    roc = CurveBand("roc", label, GRID, roc_y, *band(roc_rows, roc_y), fpr, tpr, auc, *interval(aucs), prevalence)
    prc = CurveBand("pr", label, GRID, pr_y, *band(pr_rows, pr_y), recall, precision, ap, *interval(aps), prevalence)
    return roc, prc
