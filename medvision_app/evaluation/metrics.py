"""Classification metrics from true labels and predicted probabilities.

scikit-learn computes whatever it already has (precision, recall, F1, AUC,
ROC); specificity, which it lacks, comes from the confusion matrix.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
from sklearn import metrics as skm


def _check(y_true: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"probs shape {p.shape} does not match {len(y)} labels as (N, classes)")
    if len(y) == 0:
        raise ValueError("no samples to evaluate")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"labels span {y.min()}..{y.max()} but probs have {p.shape[1]} classes")
    return y, p


def _finite(value: float) -> Optional[float]:
    return None if value is None or not math.isfinite(value) else float(value)


def auc_score(y_true: np.ndarray, probs: np.ndarray) -> Optional[float]:
    """ROC AUC: binary on the class-1 probability, else one-vs-rest macro over the classes present.

    ``None`` when it is undefined (a single class in ``y_true``).
    """
    y, p = _check(y_true, probs)
    present = np.unique(y)
    if len(present) < 2:
        return None
    if p.shape[1] == 2:
        return float(skm.roc_auc_score(y, p[:, 1]))
    scores = [skm.roc_auc_score(y == c, p[:, c]) for c in present]
    return float(np.mean(scores))


def summary_metrics(y_true: np.ndarray, probs: np.ndarray) -> dict:
    """The per-epoch validation figures: accuracy, balanced accuracy and AUC."""
    y, p = _check(y_true, probs)
    pred = p.argmax(1)
    return {
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
        "auc": auc_score(y, p),
    }


def roc_points(y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> dict:
    """ROC curve points: ``{"binary": ...}`` for two classes, else one entry per class (one-vs-rest)."""
    y, p = _check(y_true, probs)
    out = {}
    targets = [(class_names[1], 1)] if p.shape[1] == 2 else [(n, c) for c, n in enumerate(class_names)]
    for name, c in targets:
        positives = y == c
        if positives.all() or not positives.any():
            continue
        fpr, tpr, thr = skm.roc_curve(positives, p[:, c])
        out[name] = {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": [_finite(t) for t in thr]}
    return out


def classification_report(y_true: np.ndarray, probs: np.ndarray, class_names: Sequence[str]) -> dict:
    """Every figure of ``eval.json`` except the confidence intervals.

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``auc``, ``confusion_matrix``
        (rows true, columns predicted), ``per_class`` (precision, recall =
        sensitivity, specificity, f1, support, auc one-vs-rest), ``macro``
        and ``weighted`` averages, ``roc``.
    """
    y, p = _check(y_true, probs)
    n_classes = p.shape[1]
    if len(class_names) != n_classes:
        raise ValueError(f"{len(class_names)} class names for {n_classes} probability columns")
    labels = list(range(n_classes))
    pred = p.argmax(1)
    cm = skm.confusion_matrix(y, pred, labels=labels)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0
    )
    total = cm.sum()
    per_class = {}
    specificity = np.zeros(n_classes)
    for c, name in enumerate(class_names):
        tp = cm[c, c]
        fp = cm[:, c].sum() - tp
        fn = cm[c, :].sum() - tp
        tn = total - tp - fp - fn
        specificity[c] = tn / (tn + fp) if tn + fp else 0.0
        positives = y == c
        auc_c = None
        if positives.any() and not positives.all():
            auc_c = float(skm.roc_auc_score(positives, p[:, c]))
        per_class[name] = {
            "precision": float(precision[c]),
            "recall": float(recall[c]),
            "sensitivity": float(recall[c]),
            "specificity": float(specificity[c]),
            "f1": float(f1[c]),
            "support": int(support[c]),
            "auc": auc_c,
        }
    weights = support / support.sum()
    averages = {}
    for name, w in (("macro", np.full(n_classes, 1.0 / n_classes)), ("weighted", weights)):
        averages[name] = {
            "precision": float(np.dot(w, precision)),
            "recall": float(np.dot(w, recall)),
            "specificity": float(np.dot(w, specificity)),
            "f1": float(np.dot(w, f1)),
        }
    return {
        "n_samples": int(len(y)),
        "classes": list(class_names),
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)),
        "auc": auc_score(y, p),
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
        "macro": averages["macro"],
        "weighted": averages["weighted"],
        "roc": roc_points(y, p, class_names),
    }
