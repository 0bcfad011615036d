"""Per-class sensitivity, specificity, PPV, NPV, F1 and AUC, each with a bootstrap 95 % interval.

scikit-learn gives the point values (precision = PPV, recall = sensitivity);
specificity and NPV come from the one-vs-rest confusion counts, and no
scikit-learn function gives intervals. All six are computed from the same
resamples, so the intervals of one table agree with each other.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from medvision_app.evaluation.metrics import _check, rank_auc

METRICS = ("sensitivity", "specificity", "ppv", "npv", "f1", "auc")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(np.shape(num), np.nan), where=den > 0)


def one_vs_rest(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Sensitivity, specificity, PPV, NPV and F1 per class of a confusion matrix (rows true); NaN where undefined."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    fn = cm.sum(1) - tp
    fp = cm.sum(0) - tp
    tn = cm.sum() - tp - fn - fp
    return {
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
    }


def confusion(y: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    return np.bincount(y * n_classes + pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _auc_per_class(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    out = np.full(p.shape[1], np.nan)
    for c in range(p.shape[1]):
        value = rank_auc(y == c, p[:, c])
        if value is not None:
            out[c] = value
    return out


def _finite(v) -> Optional[float]:
    return float(v) if v is not None and np.isfinite(v) else None


def per_class_table(
    y_true: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
    *,
    pred: Optional[np.ndarray] = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, dict]]:
    """``{class: {metric: {"value", "low", "high"}}, ...}`` plus ``support`` per class.

    ``pred`` defaults to the most probable class; pass the predictions at an
    operating threshold to tabulate that operating point instead. Undefined
    values (no positives in a resample...) are left out of the interval; a
    value undefined on the full sample is ``None``.
    """
    y, p = _check(y_true, probs)
    n, k = p.shape
    if len(class_names) != k:
        raise ValueError(f"{len(class_names)} class names for {k} probability columns")
    pred = p.argmax(1) if pred is None else np.asarray(pred, np.int64)
    point = one_vs_rest(confusion(y, pred, k))
    point["auc"] = _auc_per_class(y, p)
    rng = np.random.default_rng(seed)
    samples = {m: np.full((n_resamples, k), np.nan) for m in METRICS}
    for r in range(n_resamples):
        idx = rng.integers(0, n, n)
        ys = y[idx]
        for m, values in one_vs_rest(confusion(ys, pred[idx], k)).items():
            samples[m][r] = values
        samples["auc"][r] = _auc_per_class(ys, p[idx])
    alpha = (1 - confidence) / 2
    support = np.bincount(y, minlength=k)
    table = {}
    for c, name in enumerate(class_names):
        row: dict = {"support": int(support[c])}
        for m in METRICS:
            col = samples[m][:, c]
            col = col[np.isfinite(col)]
            low, high = (np.quantile(col, [alpha, 1 - alpha]) if len(col) else (None, None))
            row[m] = {"value": _finite(point[m][c]), "low": _finite(low), "high": _finite(high)}
        table[name] = row
    return table
