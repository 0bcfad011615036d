"""The evaluation dashboard's numbers, checked against scikit-learn on fixed prediction tables."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from medvision_app.evaluation.analysis import analyse, misclassified, row_normalised
from medvision_app.evaluation.calibration import reliability
from medvision_app.evaluation.compare import align, delong_test, paired_bootstrap
from medvision_app.evaluation.curves import average_precision, curves_with_bands, pr_curve, roc_auc, roc_curve
from medvision_app.evaluation.intervals import per_class_table
from medvision_app.evaluation.operating_point import operating_point, predict_at, threshold_sweep
from medvision_app.evaluation.run_folder import RunFolderError, RunResults, load_run


def _table(n=300, k=2, seed=0, signal=1.2):
    """A fixed prediction table: labels and softmax probabilities that carry some signal, with ties."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += signal
    logits = np.round(logits, 1)  # ties, as real models produce
    p = np.exp(logits)
    return y, p / p.sum(1, keepdims=True)


def test_roc_and_pr_curves_match_sklearn_with_ties():
    y, p = _table()
    pos, s = y == 1, p[:, 1]
    fpr, tpr, thr = roc_curve(pos, s)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(pos, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])
    assert roc_auc(pos, s) == pytest.approx(skm.roc_auc_score(pos, s))
    precision, recall, _ = pr_curve(pos, s)
    sk_p, sk_r, _ = skm.precision_recall_curve(pos, s)
    np.testing.assert_allclose(precision, sk_p)
    np.testing.assert_allclose(recall, sk_r)
    assert average_precision(pos, s) == pytest.approx(skm.average_precision_score(pos, s))


def test_bands_surround_the_curve_and_the_auc_interval_holds_the_auc():
    y, p = _table(n=400)
    roc, pr = curves_with_bands(y == 1, p[:, 1], label="b", n_resamples=300)
    assert roc.area == pytest.approx(skm.roc_auc_score(y == 1, p[:, 1]))
    assert pr.area == pytest.approx(skm.average_precision_score(y == 1, p[:, 1]))
    assert roc.area_low < roc.area < roc.area_high
    assert pr.area_low < pr.area < pr.area_high
    assert np.all(roc.low <= roc.high)
    inside = (roc.low - 1e-9 <= roc.y) & (roc.y <= roc.high + 1e-9)
    assert inside.mean() > 0.9
    # a bigger sample of the same model gives a narrower AUC interval
    y2, p2 = _table(n=4000)
    roc2, _ = curves_with_bands(y2 == 1, p2[:, 1], n_resamples=200)
    assert roc2.area_high - roc2.area_low < (roc.area_high - roc.area_low) * 0.6
    with pytest.raises(ValueError, match="both positives and negatives"):
        curves_with_bands(np.ones(5, bool), np.linspace(0, 1, 5))


def test_per_class_table_matches_sklearn_three_classes():
    y, p = _table(n=500, k=3)
    names = ["a", "b", "c"]
    table = per_class_table(y, p, names, n_resamples=200)
    pred = p.argmax(1)
    recall = skm.recall_score(y, pred, average=None)
    precision = skm.precision_score(y, pred, average=None)
    f1 = skm.f1_score(y, pred, average=None)
    for c, name in enumerate(names):
        row = table[name]
        assert row["sensitivity"]["value"] == pytest.approx(recall[c])
        assert row["ppv"]["value"] == pytest.approx(precision[c])
        assert row["f1"]["value"] == pytest.approx(f1[c])
        assert row["specificity"]["value"] == pytest.approx(skm.recall_score(y != c, pred != c))
        assert row["npv"]["value"] == pytest.approx(skm.precision_score(y != c, pred != c))
        assert row["auc"]["value"] == pytest.approx(skm.roc_auc_score(y == c, p[:, c]))
        assert row["support"] == int((y == c).sum())
        for m in ("sensitivity", "specificity", "ppv", "npv", "f1", "auc"):
            assert row[m]["low"] <= row[m]["value"] <= row[m]["high"]
            assert row[m]["high"] - row[m]["low"] > 0


def test_confusion_matrix_counts_and_row_normalised_match_sklearn():
    y, p = _table(n=200, k=3, seed=3)
    run = RunResults(__import__("pathlib").Path("r"), ["a", "b", "c"], [str(i) for i in range(200)], y, p)
    result = analyse(run, n_resamples=50)
    np.testing.assert_array_equal(result.confusion, skm.confusion_matrix(y, p.argmax(1)))
    np.testing.assert_allclose(result.normalised, skm.confusion_matrix(y, p.argmax(1), normalize="true"))
    assert len(result.roc) == 3 and result.sweep is None
    assert row_normalised(np.zeros((2, 2))).sum() == 0


def test_reliability_matches_sklearn_and_ece_of_a_known_table():
    y, p = _table(n=600)
    rel = reliability(y, p, n_bins=10)
    frac_pos, mean_pred = calibration_curve(y == 1, p[:, 1], n_bins=10)
    filled = rel.count > 0
    np.testing.assert_allclose(rel.observed[filled], frac_pos)
    np.testing.assert_allclose(rel.confidence[filled], mean_pred)
    # 4 samples at 0.9 (3 positive) and 4 at 0.2 (1 positive): |0.75-0.9|/2 + |0.25-0.2|/2 = 0.1
    probs = np.array([[0.1, 0.9]] * 4 + [[0.8, 0.2]] * 4)
    labels = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    assert reliability(labels, probs).ece == pytest.approx(0.1)
    # top-label form for three classes: confident and always right is perfectly calibrated
    p3 = np.eye(3)[[0, 1, 2, 0]]
    assert reliability([0, 1, 2, 0], p3).ece == pytest.approx(0.0)


def test_operating_point_and_sweep_match_sklearn_confusion():
    y, p = _table(n=300, seed=5)
    for t in (0.2, 0.5, 0.8):
        op = operating_point(y, p, t, positive=1)
        pred = (p[:, 1] >= t).astype(int)
        np.testing.assert_array_equal(op.confusion, skm.confusion_matrix(y, pred, labels=[0, 1]))
        assert op.sensitivity == pytest.approx(skm.recall_score(y, pred))
        assert op.specificity == pytest.approx(skm.recall_score(1 - y, 1 - pred))
    # positive = class 0: the same threshold on the other column
    op0 = operating_point(y, p, 0.3, positive=0)
    pred0 = np.where(p[:, 0] >= 0.3, 0, 1)
    assert op0.sensitivity == pytest.approx(skm.recall_score(y == 0, pred0 == 0))
    np.testing.assert_array_equal(predict_at(p[~np.isclose(p[:, 1], 0.5)], 0.5),
                                  p[~np.isclose(p[:, 1], 0.5)].argmax(1))
    sweep = threshold_sweep(y, p)
    assert sweep["sensitivity"][0] == 1.0 and sweep["specificity"][0] == 0.0
    assert np.all(np.diff(sweep["sensitivity"]) <= 1e-12)  # sensitivity never rises with the threshold
    with pytest.raises(ValueError, match="two classes"):
        predict_at(np.ones((3, 3)) / 3, 0.5)


def test_delong_agrees_with_sklearn_aucs_and_the_paired_bootstrap():
    rng = np.random.default_rng(1)
    n = 500
    y = rng.integers(0, 2, n)
    a = y * 1.0 + rng.normal(size=n)
    b = y * 0.6 + 0.5 * a + rng.normal(size=n)  # correlated with a, weaker
    d = delong_test(y == 1, a, b)
    assert d.auc_a == pytest.approx(skm.roc_auc_score(y, a))
    assert d.auc_b == pytest.approx(skm.roc_auc_score(y, b))
    boot = paired_bootstrap(y == 1, a, b, n_resamples=600)
    assert boot.difference == pytest.approx(d.difference)
    se_delong = (d.high - d.low) / (2 * 1.959964)
    se_boot = (boot.high - boot.low) / (2 * 1.959964)
    assert se_delong == pytest.approx(se_boot, rel=0.25)
    assert d.low < d.difference < d.high
    # a model against itself: no difference; a much better model: a small p-value
    same = delong_test(y == 1, a, a)
    assert same.difference == 0 and same.p_value == 1.0
    strong = delong_test(y == 1, a, rng.normal(size=n))
    assert strong.p_value < 0.001 and strong.difference > 0.2


def test_align_pairs_runs_by_sample_id():
    ia, ib = align(["x", "y", "z"], ["z", "q", "x"])
    assert ia.tolist() == [0, 2] and ib.tolist() == [2, 0]
    with pytest.raises(ValueError, match="share no test sample"):
        align(["a"], ["b"])


def test_misclassified_most_confident_first():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.2, 0.8], [0.4, 0.6], [0.9, 0.1], [0.3, 0.7]])
    run = RunResults(__import__("pathlib").Path("r"), ["n", "p"], ["s0", "s1", "s2", "s3"], y, p)
    wrong = misclassified(run, threshold=None)
    assert [w["id"] for w in wrong] == ["s2", "s0", "s1"]
    assert wrong[0]["confidence"] == pytest.approx(0.9) and wrong[0]["predicted"] == "n"
    # first class called at P(n) >= 0.35: s1 (0.4) is now right
    assert [w["id"] for w in misclassified(run, threshold=0.35)] == ["s2", "s0"]


def test_load_run_names_the_broken_file(tmp_path):
    with pytest.raises(RunFolderError, match="no such run folder"):
        load_run(tmp_path / "absent")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(RunFolderError, match="predictions.csv: missing"):
        load_run(tmp_path)
    (tmp_path / "predictions.csv").write_text("id,true_label,predicted_label,prob_a,prob_b\nx,a,a,0.9,oops\n")
    with pytest.raises(RunFolderError, match="line 2 has a probability that is not a number"):
        load_run(tmp_path)
    (tmp_path / "predictions.csv").write_text("id,true_label,predicted_label,prob_a,prob_b\nx,a,a,0.9,0.1\n")
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(RunFolderError, match="config.json: unreadable JSON"):
        load_run(tmp_path)


def test_save_threshold_beside_the_run_and_into_the_model_card(tmp_path):
    import json
    import shutil

    from medvision_app.evaluation.threshold_store import (
        OPERATING_POINT,
        ThresholdError,
        card_supports_threshold,
        load_threshold,
        save_threshold,
    )
    from medvision_app.inference.registry import SHIPPED_DIR

    run = tmp_path / "run"
    run.mkdir()
    message = save_threshold(run, 0.42, ["malignant", "benign"])
    assert "export the run" in message and load_threshold(run) == pytest.approx(0.42)
    assert json.loads((run / OPERATING_POINT).read_text())["class"] == "malignant"
    with pytest.raises(ThresholdError, match="within"):
        save_threshold(run, 1.5, ["a", "b"])
    shutil.copy(SHIPPED_DIR / "breastmnist.onnx", run / "model.onnx")
    message = save_threshold(run, 0.3, ["malignant", "benign"])
    if card_supports_threshold():
        from medvision_app.inference import verify_model

        assert verify_model(run / "model.onnx").card.threshold == pytest.approx(0.3)
        assert "model card" in message
    else:
        assert "no threshold field" in message
        assert (run / "model.onnx").read_bytes() == (SHIPPED_DIR / "breastmnist.onnx").read_bytes()
