"""Everything the evaluation dashboard and the evaluation report show about one run, computed once.

No Qt, no torch: the dashboard draws it, the report prints it, the tests check it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from medvision_app.evaluation.calibration import Reliability, reliability
from medvision_app.evaluation.curves import CurveBand, curves_with_bands
from medvision_app.evaluation.intervals import confusion, per_class_table
from medvision_app.evaluation.operating_point import predict_at, threshold_sweep
from medvision_app.evaluation.run_folder import RunResults

# A model card's operating threshold is the first class's probability at or
# above which that class is reported (medvision_app.inference.predict.decide);
# the two-class views use the same reading, and for BreastMNIST-like label
# orders the first class is the finding (malignant). The AUC is the same
# for either class of a two-class model.
OPERATING_POSITIVE = 0


@dataclass
class RunAnalysis:
    """Confusion matrix (counts and row-normalised), per-class table with intervals, ROC and PR
    curves with bands per class (the positive class only for two classes), calibration, and for
    two classes the threshold sweep. ``threshold`` is the operating threshold the predictions use
    (None: arg-max)."""

    run: RunResults
    confusion: np.ndarray
    table: dict
    roc: list[CurveBand]
    pr: list[CurveBand]
    calibration: Reliability
    sweep: Optional[dict]
    threshold: Optional[float]
    positive: int
    n_resamples: int
    extras: dict = field(default_factory=dict)

    @property
    def normalised(self) -> np.ndarray:
        return row_normalised(self.confusion)

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(1, self.confusion.sum()))


def row_normalised(cm: np.ndarray) -> np.ndarray:
    """Each row divided by its total (the true class's recall profile); all-zero rows stay zero."""
    cm = np.asarray(cm, np.float64)
    totals = cm.sum(1, keepdims=True)
    return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)


def predictions(run: RunResults, threshold: Optional[float], positive: int = OPERATING_POSITIVE) -> np.ndarray:
    if threshold is None or run.n_classes != 2:
        return run.probs.argmax(1)
    return predict_at(run.probs, threshold, positive)


def analyse(run: RunResults, *, n_resamples: int = 1000, threshold: Optional[float] = None,
            positive: int = OPERATING_POSITIVE,
            seed: int = 0) -> RunAnalysis:
    """Compute the full analysis; ``threshold`` applies to two-class runs only."""
    y, p, k = run.y_true, run.probs, run.n_classes
    pred = predictions(run, threshold, positive)
    cm = confusion(y, pred, k)
    table = per_class_table(y, p, run.classes, pred=pred, n_resamples=n_resamples, seed=seed)
    targets = [positive] if k == 2 else list(range(k))
    roc, pr = [], []
    for c in targets:
        positives = y == c
        if positives.all() or not positives.any():
            continue
        r, q = curves_with_bands(positives, p[:, c], label=run.classes[c], n_resamples=n_resamples, seed=seed + c)
        roc.append(r)
        pr.append(q)
    calib = reliability(y, p, positive=positive, class_names=run.classes)
    sweep = threshold_sweep(y, p, positive=positive) if k == 2 else None
    return RunAnalysis(run, cm, table, roc, pr, calib, sweep, threshold if k == 2 else None, positive, n_resamples)


def misclassified(run: RunResults, *, threshold: Optional[float] = None, positive: int = OPERATING_POSITIVE) -> list[dict]:
    """The wrongly predicted samples, most confident first: id, true and predicted class, confidence."""
    pred = predictions(run, threshold, positive)
    wrong = np.flatnonzero(pred != run.y_true)
    confidence = run.probs[wrong, pred[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")]
    return [{"index": int(i), "id": run.ids[i], "true": run.classes[run.y_true[i]], "predicted": run.classes[pred[i]],
             "confidence": float(run.probs[i, pred[i]])} for i in order]
