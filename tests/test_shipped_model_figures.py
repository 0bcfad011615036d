"""Each shipped model's card figures are the file's: the ONNX file re-evaluated on its test split repeats them.

A model ships with the training config it came from (``models/NAME.train.toml``),
which names the data and its split; the re-evaluation goes through what
``predict`` does (the card's preprocessing, temperature and threshold).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from medvision_app.inference.registry import SHIPPED_DIR

ROOT = Path(__file__).resolve().parents[1]
SMALL = 20_000_000  # bytes: larger models are re-checked by python -m bench accuracy, not the test suite


def _shipped():
    return sorted(p for p in SHIPPED_DIR.glob("*.onnx") if p.stat().st_size <= SMALL)


def test_every_shipped_model_names_its_training_config():
    for path in SHIPPED_DIR.glob("*.onnx"):
        assert path.with_name(path.stem + ".train.toml").is_file(), f"{path.name} ships without its training config"


@pytest.mark.parametrize("model_path", _shipped(), ids=lambda p: p.stem)
def test_card_figures_match_a_reevaluation_of_the_shipped_file(model_path, shared_data):
    from medvision_app.inference import load_model
    from medvision_app.inference.reevaluate import mismatches, reevaluate
    from medvision_app.training.config import TrainConfig
    from medvision_app.training.run import resolve_data_path
    from medvision_app.utils.config_io import load_config

    config_file = model_path.with_name(model_path.stem + ".train.toml")
    config = load_config(TrainConfig, config_file)
    data = ROOT / config.data.path
    if not data.exists() and "runs/data" in str(data):
        # the DermaMNIST recipe's manifest, made from ../shared/data (about 10 s)
        from bench.dermamnist_manifest import DERMA, HAM, build

        if not (DERMA.is_dir() and HAM.is_dir()):
            pytest.skip(f"{DERMA} or {HAM} is absent")
        build(data)
    if not data.exists():
        pytest.skip(f"{data} is absent")
    config = replace(config, data=replace(config.data, path=str(resolve_data_path(config.data.path, config_file))))
    card = load_model(model_path).card
    report = reevaluate(model_path, config.data, "test")
    assert report["n_samples"] == sum(card.training_data.class_counts["test"].values())
    assert {"accuracy", "auc"} <= set(card.metrics)
    assert mismatches(card, report) == {}
