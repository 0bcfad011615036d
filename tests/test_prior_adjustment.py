"""Logit adjustment toward the training priors: fitted on validation, applied by calibrate, the card and predict."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from inference_support import tiny_card

from medvision_app.evaluation.metrics import balanced_accuracy, macro_f1
from medvision_app.evaluation.prior_adjustment import fit_tau, prior_offsets
from medvision_app.evaluation.temperature import scale_probabilities, softmax
from medvision_app.training.config import TrainConfig
from medvision_app.training.finish import calibrate
from medvision_app.utils.config_io import from_dict

COUNTS = [900, 60, 40]


def _balanced_model(n: int = 3000, seed: int = 0):
    """Labels at the priors COUNTS; logits of a model trained for balanced priors, so it over-calls the rare classes."""
    rng = np.random.default_rng(seed)
    prior = np.asarray(COUNTS, float) / sum(COUNTS)
    y = rng.choice(3, size=n, p=prior)
    z = rng.normal(0, 1.2, (n, 3))
    z[np.arange(n), y] += 1.5
    return z, y


def test_the_fitted_tau_trades_rare_class_calls_for_precision_and_raises_macro_f1():
    z, y = _balanced_model()
    tau, figures = fit_tau(z, y, COUNTS)
    assert 0.0 < tau <= 1.0
    before = macro_f1(y, z.argmax(1), 3)
    after = macro_f1(y, (z + prior_offsets(COUNTS, tau)).argmax(1), 3)
    assert figures["val_macro_f1_before"] == pytest.approx(before) and figures["val_macro_f1_after"] == pytest.approx(after)
    assert after > before + 0.02
    # the objective: the best mean of balanced accuracy and macro-F1 over the grid
    mean = (figures["val_balanced_accuracy_after"] + after) / 2
    for t in (0.0, 0.25, 0.5, 1.0):
        pred = (z + prior_offsets(COUNTS, t)).argmax(1)
        assert (balanced_accuracy(y, pred, 3) + macro_f1(y, pred, 3)) / 2 <= mean + 1e-12


def test_equal_priors_change_nothing_so_the_smallest_tau_wins():
    z, y = _balanced_model()
    tau, figures = fit_tau(z, y, [100, 100, 100])
    assert tau == 0.0 and figures["val_macro_f1_after"] == figures["val_macro_f1_before"]
    assert np.all(prior_offsets([5, 0], 1.0) < 0)  # an absent class counts as one image, no -inf


def test_calibrate_fits_on_validation_and_scores_the_adjusted_test_logits():
    z_val, y_val = _balanced_model(seed=1)
    z_test, y_test = _balanced_model(seed=2)
    config = from_dict(TrainConfig, {"eval": {"prior_adjustment": "fit", "temperature_scaling": True}})
    probs, extra = calibrate(config, ["a", "b", "c"], (z_val, y_val), (z_test, y_test), class_counts=COUNTS)
    record = extra["prior_adjustment"]
    tau, _ = fit_tau(z_val, y_val, COUNTS)
    assert record["tau"] == tau and record["fitted_on"] == "val" and record["class_counts"] == COUNTS
    offsets = np.asarray(record["offsets"])
    assert np.allclose(offsets, prior_offsets(COUNTS, tau))
    # the temperature is fitted on the adjusted validation logits; the test probabilities are softmax((z + o) / T)
    temperature = extra["calibration"]["temperature"]
    assert np.allclose(probs, softmax(z_test + offsets, temperature), atol=1e-6)
    assert macro_f1(y_test, probs.argmax(1), 3) > macro_f1(y_test, z_test.argmax(1), 3)
    # fixed: the tau the config gives; no counts: refused
    config.eval.prior_adjustment, config.eval.prior_tau = "fixed", 0.3
    _probs, extra = calibrate(config, ["a", "b", "c"], (z_val, y_val), (z_test, y_test), class_counts=COUNTS)
    assert extra["prior_adjustment"]["tau"] == 0.3
    with pytest.raises(ValueError, match="class counts"):
        calibrate(config, ["a", "b", "c"], (z_val, y_val), (z_test, y_test))


def test_the_card_carries_the_offsets_and_predicts_with_them():
    card = dataclasses.replace(tiny_card(), logit_offsets=[-0.2, -1.1], temperature=1.5)
    again = type(card).from_json(card.to_json())
    assert again.logit_offsets == [-0.2, -1.1]
    for bad in ([1.0], [0.0, float("nan")], [0.0, 500.0]):
        with pytest.raises(ValueError, match="logit_offsets"):
            dataclasses.replace(card, logit_offsets=bad)
    z = np.random.default_rng(0).normal(0, 2, (5, 2))
    got = scale_probabilities(softmax(z), 1.5, [-0.2, -1.1])
    assert np.allclose(got, softmax(z + np.array([-0.2, -1.1]), 1.5), atol=1e-9)


def test_the_export_takes_the_offsets_from_the_runs_evaluation(tmp_path):
    from medvision_app.inference.run_export import _operating_facts

    config = from_dict(TrainConfig, {"eval": {"prior_adjustment": "fit"}})
    report = {"prior_adjustment": {"tau": 0.5, "offsets": [-0.1, -2.0, -1.5]}, "calibration": {"temperature": 2.0}}
    (tmp_path / "eval.json").write_text(json.dumps(report))
    facts = _operating_facts(tmp_path, config, 3)
    assert facts["logit_offsets"] == [-0.1, -2.0, -1.5] and facts["temperature"] == 2.0
    report["prior_adjustment"]["offsets"] = [0.0, 0.0, 0.0]  # tau 0: nothing to carry
    (tmp_path / "eval.json").write_text(json.dumps(report))
    assert "logit_offsets" not in _operating_facts(tmp_path, config, 3)
