"""Comparing two models on the same test samples: DeLong's test and a paired bootstrap for the AUC difference.

DeLong, DeLong and Clarke-Pearson (1988), in the fast midrank form of Sun
and Xu (2014): the covariance of correlated AUCs from their structural
components, no resampling. The paired bootstrap resamples samples (the same
indices for both models) and is offered beside it for small test sets,
where DeLong's normal approximation is weakest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.stats import norm, rankdata

from medvision_app.evaluation.metrics import rank_auc


@dataclass(frozen=True)
class AucComparison:
    """``auc_a - auc_b`` with its interval and two-sided p-value."""

    method: str
    auc_a: float
    auc_b: float
    difference: float
    low: float
    high: float
    p_value: float
    n_positive: int
    n_negative: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _split(positive: np.ndarray) -> tuple[np.ndarray, int, int]:
    pos = np.asarray(positive, bool).reshape(-1)
    m = int(pos.sum())
    n = len(pos) - m
    if m == 0 or n == 0:
        raise ValueError("the AUC comparison needs both positive and negative samples")
    return pos, m, n


def delong_covariance(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of the rows of ``scores`` (models x samples) and their DeLong covariance matrix."""
    pos, m, n = _split(positive)
    s = np.atleast_2d(np.asarray(scores, np.float64))
    x, y = s[:, pos], s[:, ~pos]
    k = s.shape[0]
    tx = np.vstack([rankdata(x[r]) for r in range(k)])
    ty = np.vstack([rankdata(y[r]) for r in range(k)])
    tz = np.vstack([rankdata(np.r_[x[r], y[r]]) for r in range(k)])
    aucs = (tz[:, :m].sum(1) - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def delong_test(positive: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray,
                *, confidence: float = 0.95) -> AucComparison:
    """DeLong's test of two correlated ROC AUCs on the same samples."""
    pos, m, n = _split(positive)
    aucs, cov = delong_covariance(pos, np.vstack([scores_a, scores_b]))
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    if var <= 1e-15:
        # identical rankings: no difference and nothing to test
        return AucComparison("DeLong", float(aucs[0]), float(aucs[1]), diff, diff, diff, 1.0 if diff == 0 else 0.0, m, n)
    se = var ** 0.5
    zq = norm.ppf(1 - (1 - confidence) / 2)
    p = float(2 * norm.sf(abs(diff) / se))
    return AucComparison("DeLong", float(aucs[0]), float(aucs[1]), diff, diff - zq * se, diff + zq * se, p, m, n)


def paired_bootstrap(positive: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, *,
                     n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> AucComparison:
    """Percentile interval of the AUC difference over paired resamples; p from the interval's inversion
    (twice the smaller share of resampled differences on either side of zero)."""
    pos, m, n = _split(positive)
    a = np.asarray(scores_a, np.float64)
    b = np.asarray(scores_b, np.float64)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(pos), len(pos))
        ra, rb = rank_auc(pos[idx], a[idx]), rank_auc(pos[idx], b[idx])
        if ra is not None and rb is not None:
            diffs.append(ra - rb)
    auc_a, auc_b = rank_auc(pos, a), rank_auc(pos, b)
    diff = float(auc_a - auc_b)
    d = np.asarray(diffs)
    alpha = (1 - confidence) / 2
    low, high = (np.quantile(d, [alpha, 1 - alpha]) if len(d) else (diff, diff))
    p = float(min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean()))) if len(d) else 1.0
    return AucComparison("paired bootstrap", float(auc_a), float(auc_b), diff, float(low), float(high), p, m, n)


def align(ids_a: list[str], ids_b: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays picking the samples both runs predicted, in ``ids_a``'s order."""
    where_b = {sid: i for i, sid in enumerate(ids_b)}
    pairs = [(i, where_b[sid]) for i, sid in enumerate(ids_a) if sid in where_b]
    if not pairs:
        raise ValueError("the runs share no test sample (different data or split): nothing to compare")
    ia, ib = zip(*pairs, strict=True)
    return np.asarray(ia), np.asarray(ib)


def compare_scores(positive: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, *,
                   method: str = "delong", n_resamples: int = 1000, seed: int = 0) -> AucComparison:
    if method == "delong":
        return delong_test(positive, scores_a, scores_b)
    if method == "bootstrap":
        return paired_bootstrap(positive, scores_a, scores_b, n_resamples=n_resamples, seed=seed)
    raise ValueError(f"unknown comparison method {method!r}; use 'delong' or 'bootstrap'")


def auc_scores(y: np.ndarray, probs: np.ndarray, cls: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """(positive mask, scores) of the AUC a run reports: class 1 for two classes, else class ``cls``."""
    p = np.asarray(probs, np.float64)
    c = 1 if cls is None and p.shape[1] == 2 else (cls if cls is not None else 0)
    return np.asarray(y) == c, p[:, c]
