"""The numpy metrics against scikit-learn's (kept as a test dependency only, out of the reader build)."""

from __future__ import annotations

import numpy as np
import pytest

from medvision_app.evaluation.metrics import auc_score, classification_report, roc_points, summary_metrics

skm = pytest.importorskip("sklearn.metrics")


def _case(seed: int, n: int, classes: int, *, ties: bool, skip_class: bool):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    if skip_class:
        y[y == classes - 1] = 0  # a class with no sample: support 0, recall undefined
    logits = rng.normal(size=(n, classes)) + np.eye(classes)[y] * rng.uniform(0, 2)
    if ties:
        logits = np.round(logits, 1)  # many equal scores
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    if ties:
        p = np.round(p, 2)
    return y, p


CASES = [(s, n, c, t, k) for s, (n, c, t, k) in enumerate(
    [(40, 2, False, False), (200, 2, True, False), (31, 3, False, False), (300, 4, True, False),
     (120, 4, True, True), (9, 2, True, False), (500, 7, False, True)])]


@pytest.mark.parametrize("seed,n,classes,ties,skip", CASES)
def test_every_figure_equals_scikit_learn(seed, n, classes, ties, skip):
    y, p = _case(seed, n, classes, ties=ties, skip_class=skip)
    names = [f"c{i}" for i in range(classes)]
    report = classification_report(y, p, names)
    pred = p.argmax(1)
    labels = list(range(classes))
    assert report["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=labels).tolist()
    precision, recall, f1, support = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    for c, name in enumerate(names):
        row = report["per_class"][name]
        assert row["precision"] == pytest.approx(precision[c]) and row["recall"] == pytest.approx(recall[c])
        assert row["f1"] == pytest.approx(f1[c]) and row["support"] == support[c]
        positives = y == c
        if positives.any() and not positives.all():
            assert row["auc"] == pytest.approx(skm.roc_auc_score(positives, p[:, c]))
        else:
            assert row["auc"] is None
    assert report["macro"]["f1"] == pytest.approx(skm.f1_score(y, pred, labels=labels, average="macro",
                                                               zero_division=0))
    with _no_check():
        expected_bacc = skm.balanced_accuracy_score(y, pred)
    assert report["balanced_accuracy"] == pytest.approx(expected_bacc)
    assert summary_metrics(y, p)["balanced_accuracy"] == pytest.approx(expected_bacc)
    if classes == 2:
        assert auc_score(y, p) == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    else:
        present = np.unique(y)
        assert auc_score(y, p) == pytest.approx(np.mean([skm.roc_auc_score(y == c, p[:, c]) for c in present]))


@pytest.mark.parametrize("seed,n,classes,ties,skip", CASES)
def test_roc_points_are_scikit_learns_curve(seed, n, classes, ties, skip):
    y, p = _case(seed, n, classes, ties=ties, skip_class=skip)
    names = [f"c{i}" for i in range(classes)]
    points = roc_points(y, p, names)
    targets = [(names[1], 1)] if classes == 2 else list(zip(names, range(classes), strict=True))
    for name, c in targets:
        positives = y == c
        if positives.all() or not positives.any():
            assert name not in points
            continue
        fpr, tpr, thr = skm.roc_curve(positives, p[:, c])
        np.testing.assert_allclose(points[name]["fpr"], fpr)
        np.testing.assert_allclose(points[name]["tpr"], tpr)
        assert points[name]["thresholds"][0] is None  # inf is not JSON
        np.testing.assert_allclose(points[name]["thresholds"][1:], thr[1:])


class _no_check:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")  # scikit-learn warns about predicted classes with no true sample

    def __exit__(self, *exc):
        return self._w.__exit__(*exc)
