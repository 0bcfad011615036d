"""Temperature scaling, the operating threshold chosen on validation, and predict using both from the card."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from inference_support import TinyAttentionNet, breastmnist_batch, tiny_card

from medvision_app.evaluation.calibration import reliability
from medvision_app.evaluation.settings import EvalSettings
from medvision_app.evaluation.temperature import fit_temperature, nll, scale_probabilities, softmax
from medvision_app.evaluation.threshold_choice import choose_threshold, operating_report
from medvision_app.inference.card import ModelCard
from medvision_app.utils.config_io import ConfigError, from_dict


def _overconfident(n: int = 4000, true_t: float = 2.5, seed: int = 0):
    """Logits whose labels were drawn from softmax(z / true_t): the fitted T should be near true_t."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 4, (n, 3))
    p = softmax(z, true_t)
    y = np.array([rng.choice(3, p=row) for row in p])
    return z, y


def test_temperature_fit_recovers_the_temperature_and_lowers_nll_and_ece():
    z, y = _overconfident()
    t = fit_temperature(z, y)
    assert t == pytest.approx(2.5, rel=0.1)
    assert nll(z, y, t) < nll(z, y) - 0.05
    assert reliability(y, softmax(z, t)).ece < reliability(y, softmax(z)).ece / 2
    # already calibrated logits keep T near 1
    z1 = z / 2.5
    assert fit_temperature(z1, y) == pytest.approx(1.0, rel=0.1)


def test_scaling_probabilities_equals_scaling_logits():
    z = np.random.default_rng(1).normal(0, 3, (50, 4))
    assert np.allclose(scale_probabilities(softmax(z), 1.7), softmax(z, 1.7), atol=1e-10)
    assert scale_probabilities(softmax(z), 1.0) is not None


def _binary(seed: int = 0, n: int = 400):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    # P(first class) higher for class 0, overlapping
    p0 = np.clip(np.where(y == 0, rng.normal(0.6, 0.15, n), rng.normal(0.35, 0.15, n)), 0, 1)
    return y, np.column_stack([p0, 1 - p0])


def test_youden_threshold_maximises_j_on_validation():
    y, p = _binary()
    chosen = choose_threshold(y, p, "youden")
    j = chosen["val_sensitivity"] + chosen["val_specificity"] - 1
    for t in np.linspace(0, 1, 201):  # no grid threshold does better
        called0 = p[:, 0] >= t
        sens = called0[y == 0].mean()
        spec = (~called0)[y == 1].mean()
        assert sens + spec - 1 <= j + 1e-12
    assert 0.35 < chosen["threshold"] < 0.6


@pytest.mark.parametrize("positive", [0, 1])
def test_sensitivity_threshold_reaches_the_target_for_either_class(positive):
    y, p = _binary(2)
    chosen = choose_threshold(y, p, "sensitivity", positive=positive, target_sensitivity=0.95)
    called0 = p[:, 0] >= chosen["threshold"]
    called = called0 if positive == 0 else ~called0
    sens = called[y == positive].mean()
    assert sens >= 0.95 and sens == pytest.approx(chosen["val_sensitivity"])
    # the most specific such threshold: one step stricter misses the target
    strict = choose_threshold(y, p, "sensitivity", positive=positive, target_sensitivity=0.999)
    assert strict["val_specificity"] <= chosen["val_specificity"]


def test_fixed_and_none_methods_and_operating_report():
    y, p = _binary(3)
    assert choose_threshold(y, p, "none") is None
    assert choose_threshold(y, p, "fixed", value=0.42)["threshold"] == 0.42
    report = operating_report(y, p, 0.5, n_resamples=200)
    pred = np.where(p[:, 0] >= 0.5, 0, 1)
    assert report["accuracy"] == pytest.approx((pred == y).mean())
    assert report["ci"]["accuracy"]["low"] < report["accuracy"] < report["ci"]["accuracy"]["high"]
    with pytest.raises(ValueError):
        choose_threshold(y, np.column_stack([p, p[:, :1]]), "youden")


def test_eval_settings_declare_their_choices():
    assert from_dict(EvalSettings, {"tta": "hflip", "threshold": {"method": "youden"}}).tta == "hflip"
    with pytest.raises(ConfigError, match="tta"):
        from_dict(EvalSettings, {"tta": "rotate"})
    with pytest.raises(ConfigError, match="method"):
        from_dict(EvalSettings, {"threshold": {"method": "magic"}})


def test_card_refuses_a_threshold_it_cannot_mean_and_a_bad_temperature():
    card = tiny_card()
    for bad in ({"threshold": 1.5}, {"threshold": float("nan")}, {"temperature": 0.0}, {"tta": "rot90"}):
        with pytest.raises(ValueError):
            dataclasses.replace(card, **bad)
    with pytest.raises(ValueError, match="two classes"):
        dataclasses.replace(tiny_card(classes=("a", "b", "c")), threshold=0.5)
    text = dataclasses.replace(card, threshold=0.3, temperature=1.7, tta="hflip").to_json()
    again = ModelCard.from_json(text)
    assert (again.threshold, again.temperature, again.tta) == (0.3, 1.7, "hflip")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, shared_data):
    """One tiny network exported three ways: plain, with a temperature and threshold, with flip TTA."""
    from medvision_app.inference.export import export_module

    images, _ = breastmnist_batch(shared_data, 8)
    torch.manual_seed(3)
    net = TinyAttentionNet()
    folder = tmp_path_factory.mktemp("cal")
    paths = {}
    for name, changes in {"plain": {}, "calibrated": {"temperature": 3.0, "threshold": 0.9},
                          "tta": {"tta": "hflip"}, "adjusted": {"logit_offsets": [0.0, -2.0], "temperature": 1.5}}.items():
        card = dataclasses.replace(tiny_card(), name=f"tiny-{name}", **changes)
        paths[name] = export_module(net, card, images, folder / f"{name}.onnx")[0]
    return net, images, paths


def test_predict_applies_the_cards_temperature_and_threshold(exported, monkeypatch):
    from medvision_app.inference import load_model, predict

    _net, images, paths = exported
    plain, calibrated = load_model(paths["plain"]), load_model(paths["calibrated"])
    for img in images[:4, 0]:
        raw = np.array(list(predict(img, plain, heatmap=False).probabilities.values()))
        got = predict(img, calibrated, heatmap=False)
        probs = np.array(list(got.probabilities.values()))
        assert np.allclose(probs, scale_probabilities(raw[None], 3.0)[0], atol=1e-5)
        assert not np.allclose(probs, raw, atol=1e-3)
        # the first class only at P >= 0.9, whatever the arg-max says
        assert got.predicted == ("malignant" if probs[0] >= 0.9 else "benign")


def test_predict_adds_the_cards_logit_offsets_before_the_temperature(exported):
    from medvision_app.inference import load_model, predict

    _net, images, paths = exported
    plain, adjusted = load_model(paths["plain"]), load_model(paths["adjusted"])
    for img in images[:4, 0]:
        raw = np.array(list(predict(img, plain, heatmap=False).probabilities.values()))
        got = np.array(list(predict(img, adjusted, heatmap=False).probabilities.values()))
        assert np.allclose(got, softmax((np.log(raw) + np.array([0.0, -2.0]))[None], 1.5)[0], atol=1e-5)
        assert got[1] < raw[1]


def test_exported_graph_averages_the_flipped_views(exported):
    from medvision_app.inference import load_model
    from medvision_app.inference.predict import predict_batch

    net, images, paths = exported
    x = torch.as_tensor(images)
    with torch.no_grad():
        logits = (net(x) + net(torch.flip(x, (3,)))) / 2
    expected = torch.softmax(logits, 1).numpy()
    got = predict_batch(images, load_model(paths["tta"]))["probabilities"]
    # a pooled network is nearly flip-invariant: the views differ by about 1e-5 here, ONNX from PyTorch by 1e-7
    assert np.abs(got - expected).max() < 2e-6
    plain = predict_batch(images, load_model(paths["plain"]))["probabilities"]
    assert np.abs(plain - expected).max() > 1e-5


def test_card_facts_say_the_threshold_class_and_the_calibration():
    from medvision_app.inference.card_view import card_facts

    facts = dict(card_facts(dataclasses.replace(tiny_card(), threshold=0.31, temperature=1.8, tta="hflip")))
    assert facts["Operating threshold"] == "0.31 on P(malignant)"
    assert "temperature 1.8" in facts["Calibration"] and "hflip" in facts["Calibration"]
    assert dict(card_facts(tiny_card()))["Calibration"].startswith("none")


def test_calibration_without_validation_fits_nothing_and_keeps_the_report():
    from medvision_app.training.config import TrainConfig
    from medvision_app.training.finish import calibrate

    config = from_dict(TrainConfig, {"eval": {"temperature_scaling": True, "threshold": {"method": "youden"}}})
    z = np.random.default_rng(0).normal(0, 2, (30, 2))
    y = np.arange(30) % 2
    probs, extra = calibrate(config, ["a", "b"], None, (z, y))
    assert np.allclose(probs, softmax(z), atol=1e-6)
    assert extra["calibration"]["temperature"] == 1.0 and "operating_threshold" not in extra
    assert "validation" in extra["operating_threshold_note"]
    config.eval.threshold.method = "fixed"
    _probs, extra = calibrate(config, ["a", "b"], None, (z, y))
    assert extra["operating_threshold"]["threshold"] == 0.5
    # with validation: the temperature is the one fitted there and the test ECE is reported both ways
    config.eval.threshold.method = "youden"
    _probs, extra = calibrate(config, ["a", "b"], (z * 3, y), (z, y))
    assert extra["calibration"]["temperature"] == pytest.approx(fit_temperature(z * 3, y))
    assert {"ece_before", "ece_after", "val_ece_before", "val_ece_after"} <= set(extra["calibration"])
    assert 0 <= extra["operating_threshold"]["threshold"] <= 1
