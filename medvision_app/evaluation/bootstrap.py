"""Bootstrap 95 % confidence intervals of the headline metrics."""

from __future__ import annotations

from typing import Optional

import numpy as np

from medvision_app.evaluation.metrics import _check, balanced_accuracy, macro_f1, rank_auc


def _auc(y: np.ndarray, p: np.ndarray) -> Optional[float]:
    if p.shape[1] == 2:
        return rank_auc(y == 1, p[:, 1])
    scores = [rank_auc(y == c, p[:, c]) for c in np.unique(y)]
    scores = [s for s in scores if s is not None]
    return float(np.mean(scores)) if len(scores) >= 2 else None


def bootstrap_ci(
    y_true: np.ndarray,
    probs: np.ndarray,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict:
    """Percentile bootstrap intervals for accuracy, balanced accuracy, macro F1 and AUC.

    Parameters
    ----------
    y_true : ndarray of int, shape (N,)
    probs : ndarray, shape (N, C)
    n_resamples : int
        Resamples of N samples drawn with replacement (seeded by ``seed``).
    confidence : float in (0, 1)

    Returns
    -------
    dict
        ``{metric: {"low": float, "high": float}}``; AUC skips resamples
        holding a single class, and is ``None`` when none remain.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples {n_resamples} must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence} must be between 0 and 1")
    y, p = _check(y_true, probs)
    n, c = p.shape
    pred = p.argmax(1)
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {"accuracy": [], "balanced_accuracy": [], "macro_f1": [], "auc": []}
    for _ in range(n_resamples):
        idx = rng.integers(0, n, n)
        ys, ps = y[idx], pred[idx]
        values["accuracy"].append(float((ys == ps).mean()))
        values["balanced_accuracy"].append(balanced_accuracy(ys, ps, c))
        values["macro_f1"].append(macro_f1(ys, ps, c))
        auc = _auc(ys, p[idx])
        if auc is not None:
            values["auc"].append(auc)
    alpha = (1 - confidence) / 2
    out = {}
    for name, vals in values.items():
        if not vals:
            out[name] = None
            continue
        low, high = np.quantile(vals, [alpha, 1 - alpha])
        out[name] = {"low": float(low), "high": float(high)}
    out["confidence"] = confidence
    out["n_resamples"] = n_resamples
    return out
