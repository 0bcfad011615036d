"""Choosing a two-class model's operating threshold on the validation split.

The threshold is on the first class's probability, as the card and
``medvision_app.inference.predict.decide`` read it: the first class is
reported when its probability is at or above the threshold. The positive
class whose sensitivity counts may be either of the two.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


def candidate_thresholds(probs: np.ndarray) -> np.ndarray:
    """Every threshold that changes a call on these probabilities: the distinct P(first class) values, and 1 + e."""
    first = np.unique(np.asarray(probs, np.float64)[:, 0])
    return np.concatenate([first, [np.nextafter(1.0, 2.0)]])


def _rates(y: np.ndarray, probs: np.ndarray, t: float, positive: int) -> tuple[float, float]:
    """(sensitivity, specificity) of class ``positive`` when the first class is called at P >= ``t``."""
    called = np.where(probs[:, 0] >= t, 0, 1) == positive
    actual = y == positive
    sens = float((called & actual).sum() / actual.sum()) if actual.any() else float("nan")
    spec = float((~called & ~actual).sum() / (~actual).sum()) if (~actual).any() else float("nan")
    return sens, spec


def choose_threshold(y_true: np.ndarray, probs: np.ndarray, method: str, *, positive: int = 0,
                     target_sensitivity: float = 0.9, value: float = 0.5) -> Optional[dict]:
    """The chosen threshold with its validation sensitivity and specificity (of class ``positive``); None for ``none``.

    ``youden``: the largest sensitivity + specificity - 1 (the middle of the
    best stretch between two neighbouring probabilities, so it does not sit
    on a validation sample); ``sensitivity``: the highest specificity among
    thresholds whose sensitivity reaches ``target_sensitivity``; ``fixed``: ``value``.
    """
    y = np.asarray(y_true, np.int64)
    p = np.asarray(probs, np.float64)
    if method == "none":
        return None
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"an operating threshold needs two classes, got probabilities of shape {p.shape}")
    if method == "fixed":
        t = float(value)
    else:
        grid = candidate_thresholds(p)
        rates = np.array([_rates(y, p, float(t), positive) for t in grid])
        sens, spec = rates[:, 0], rates[:, 1]
        if method == "youden":
            score = sens + spec - 1
        elif method == "sensitivity":
            score = np.where(sens >= target_sensitivity - 1e-12, spec, -np.inf)
            if not np.isfinite(score).any():
                score = sens  # unreachable target: the most sensitive threshold
        else:
            raise ValueError(f"unknown threshold method {method!r}")
        best = int(np.argmax(score))
        # the midpoint to the next lower candidate gives the same calls on validation
        lower = grid[best - 1] if best > 0 else 0.0
        t = float(min(1.0, (grid[best] + lower) / 2))
    sens, spec = _rates(y, p, t, positive)
    return {"threshold": t, "method": method, "positive": positive, "val_sensitivity": sens,
            "val_specificity": spec}


def _at(y: np.ndarray, first_prob: np.ndarray, t: float, positive: int) -> dict:
    pred = np.where(first_prob >= t, 0, 1)
    actual, called = y == positive, pred == positive
    sens = (called & actual).sum() / actual.sum() if actual.any() else np.nan
    spec = (~called & ~actual).sum() / (~actual).sum() if (~actual).any() else np.nan
    return {"accuracy": float((pred == y).mean()), "balanced_accuracy": float(np.nanmean([sens, spec])),
            "sensitivity": float(sens), "specificity": float(spec)}


def operating_report(y_true: np.ndarray, probs: np.ndarray, threshold: float, *, positive: int = 0,
                     n_resamples: int = 1000, seed: int = 0) -> dict:
    """Accuracy, balanced accuracy, sensitivity and specificity (of ``positive``) at ``threshold``,
    each with a 95 % percentile-bootstrap interval (``ci``: metric -> low, high)."""
    y = np.asarray(y_true, np.int64)
    first = np.asarray(probs, np.float64)[:, 0]
    out = _at(y, first, threshold, positive)
    rng = np.random.default_rng(seed)
    draws = {k: [] for k in out}
    for _ in range(n_resamples):
        i = rng.integers(0, len(y), len(y))
        for k, v in _at(y[i], first[i], threshold, positive).items():
            draws[k].append(v)
    ci = {}
    for k, values in draws.items():
        values = np.asarray(values, np.float64)
        values = values[np.isfinite(values)]
        ci[k] = ({"low": float(np.percentile(values, 2.5)), "high": float(np.percentile(values, 97.5))}
                 if values.size else {"low": None, "high": None})
    return {"threshold": float(threshold), "positive": positive, **out, "ci": ci}
