"""Evaluation metrics against scikit-learn, on real predictions of real images."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

from medvision_app.evaluation import bootstrap_ci, classification_report, evaluate, write_predictions
from medvision_app.evaluation.bootstrap import rank_auc


@pytest.fixture(scope="module")
def binary_predictions(shared_data):
    npz = np.load(shared_data / "breastmnist" / "breastmnist.npz")
    x_train = npz["train_images"].reshape(546, -1) / 255.0
    x_test = npz["test_images"].reshape(156, -1) / 255.0
    clf = LogisticRegression(max_iter=300, C=0.05).fit(x_train, npz["train_labels"].ravel())
    return npz["test_labels"].ravel(), clf.predict_proba(x_test)


def _idx(path, offset):
    with gzip.open(path) as fh:
        return np.frombuffer(fh.read(), np.uint8, offset=offset)


@pytest.fixture(scope="module")
def multiclass_predictions(shared_data):
    images = _idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)[:1500] / 255.0
    # 7 x 7 block means keep the fit quick and still leave it imperfect
    images = images.reshape(-1, 7, 4, 7, 4).mean((2, 4)).reshape(-1, 49)
    labels = _idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz", 8)[:1500].astype(np.int64)
    clf = LogisticRegression(max_iter=300).fit(images[:1000], labels[:1000])
    return labels[1000:], clf.predict_proba(images[1000:])


def _check_against_sklearn(y, p, names):
    report = classification_report(y, p, names)
    pred = p.argmax(1)
    assert report["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert report["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert report["confusion_matrix"] == skm.confusion_matrix(y, pred).tolist()
    for avg in ("macro", "weighted"):
        prec, rec, f1, _ = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        assert report[avg]["precision"] == pytest.approx(prec)
        assert report[avg]["recall"] == pytest.approx(rec)
        assert report[avg]["f1"] == pytest.approx(f1)
    per_recall = skm.recall_score(y, pred, average=None)
    for c, name in enumerate(names):
        assert report["per_class"][name]["recall"] == pytest.approx(per_recall[c])
        # specificity is the recall of "not c"
        spec = skm.recall_score(y != c, pred != c)
        assert report["per_class"][name]["specificity"] == pytest.approx(spec)
    return report


def test_binary_metrics_match_sklearn(binary_predictions):
    y, p = binary_predictions
    report = _check_against_sklearn(y, p, ["malignant", "benign"])
    assert report["auc"] == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    fpr, tpr, _ = skm.roc_curve(y, p[:, 1])
    assert report["roc"]["benign"]["fpr"] == pytest.approx(fpr.tolist())
    assert report["roc"]["benign"]["tpr"] == pytest.approx(tpr.tolist())
    assert 0.6 < report["auc"] <= 1.0


def test_multiclass_metrics_match_sklearn(multiclass_predictions):
    y, p = multiclass_predictions
    names = [str(i) for i in range(10)]
    report = _check_against_sklearn(y, p, names)
    assert report["auc"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert set(report["roc"]) == set(names)


def test_rank_auc_equals_sklearn(binary_predictions, multiclass_predictions):
    y, p = binary_predictions
    assert rank_auc(y == 1, p[:, 1]) == pytest.approx(skm.roc_auc_score(y, p[:, 1]))
    y, p = multiclass_predictions
    rounded = np.round(p[:, 3], 2)  # many ties
    assert rank_auc(y == 3, rounded) == pytest.approx(skm.roc_auc_score(y == 3, rounded))


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate(binary_predictions):
    y, p = binary_predictions
    ci = bootstrap_ci(y, p, n_resamples=200, seed=4)
    assert ci == bootstrap_ci(y, p, n_resamples=200, seed=4)
    acc = skm.accuracy_score(y, p.argmax(1))
    assert ci["accuracy"]["low"] < acc < ci["accuracy"]["high"]
    auc = skm.roc_auc_score(y, p[:, 1])
    assert ci["auc"]["low"] < auc < ci["auc"]["high"]
    assert ci["accuracy"]["high"] - ci["accuracy"]["low"] < 0.25
    assert bootstrap_ci(y, p, n_resamples=200, seed=5) != ci


def test_evaluate_and_predictions_file(binary_predictions, tmp_path):
    y, p = binary_predictions
    report = evaluate(y, p, ["malignant", "benign"], n_resamples=50)
    for key in ("accuracy", "balanced_accuracy", "auc", "confusion_matrix", "per_class", "ci", "macro_f1"):
        assert key in report
    out = tmp_path / "predictions.csv"
    write_predictions(out, [f"s{i}" for i in range(len(y))], y, p, ["malignant", "benign"])
    lines = out.read_text().splitlines()
    assert lines[0] == "id,true_label,predicted_label,prob_malignant,prob_benign"
    assert len(lines) == len(y) + 1


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError, match="does not match"):
        classification_report(np.array([0, 1]), np.ones((3, 2)) / 2, ["a", "b"])
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci(np.array([0, 1]), np.ones((2, 2)) / 2, n_resamples=0)
