"""The shipped models' recipes (examples/configs/recipe_*.toml): each loads, and trains, evaluates and exports
in a one-epoch smoke version whose exported file repeats its card's figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from medvision_app.training.config import TrainConfig
from medvision_app.utils.config_io import load_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.accuracy_recipes import CONFIGS, RECIPES, data_path, load_recipe  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_loads_and_asks_for_what_issue_16_chose(name):
    config = load_config(TrainConfig, CONFIGS / RECIPES[name][0])
    assert config.train.schedule == "cosine" and config.train.cpu_threads == 1
    assert config.eval.temperature_scaling
    two_class = RECIPES[name][1] in ("breastmnist", "pneumoniamnist")
    assert (config.eval.threshold.method != "none") == two_class
    if config.model.name == "efficientnet_lite0":
        assert config.train.bn_reestimate and config.model.bn_momentum == 0.1
    if RECIPES[name][1] == "ham10000":
        assert config.model.metadata and config.model.soft_attention and config.data.format == "ham10000"


# Small enough for a fast test, large enough that every split holds both classes.
SMOKE = ["train.epochs=1", "data.limit=48", "train.batch_size=16"]


@pytest.mark.parametrize("name", [
    "recipe_breastmnist",
    "recipe_pneumoniamnist",
    pytest.param("recipe_dermamnist", marks=pytest.mark.slow),
    pytest.param("recipe_ham10000", marks=pytest.mark.slow),
])
def test_recipe_smoke_trains_calibrates_exports_and_the_file_repeats_its_card(name, tmp_path, shared_data):
    from medvision_app.inference import load_model
    from medvision_app.inference.reevaluate import mismatches, reevaluate
    from medvision_app.inference.run_export import export_run
    from medvision_app.training.run import start_run

    if not data_path(name).exists():
        pytest.skip(f"{data_path(name)} is absent")
    config = load_recipe(name, SMOKE)
    result = start_run(config, tmp_path / "run")
    assert result.epochs_run == 1
    report = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert report["tta"] == config.eval.tta
    cal = report["calibration"]
    assert cal["temperature"] > 0 and cal["val_nll_after"] <= cal["val_nll_before"] + 1e-9
    assert {"ece_before", "ece_after"} <= set(cal)
    exported = export_run(tmp_path / "run", tmp_path / "model.onnx", name=f"smoke-{name}")
    card = load_model(exported.path).card
    assert card.temperature == pytest.approx(cal["temperature"]) and card.tta == config.eval.tta
    if config.eval.threshold.method != "none":
        assert card.threshold == pytest.approx(report["operating_threshold"]["threshold"])
        assert "accuracy_at_threshold" in card.metrics
    assert mismatches(card, reevaluate(exported.path, config.data)) == {}


def test_a_threshold_on_seven_classes_is_refused_before_training(tmp_path, shared_data):
    from medvision_app.training.errors import TrainingError
    from medvision_app.training.run import start_run

    if not data_path("recipe_dermamnist").exists():
        pytest.skip("DermaMNIST is absent")
    config = load_recipe("recipe_dermamnist", ["data.limit=8", "eval.threshold.method=youden"])
    with pytest.raises(TrainingError, match="eval.threshold.method 'youden' needs two classes"):
        start_run(config, tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()
    config = load_recipe("recipe_breastmnist", ["data.limit=8", "eval.threshold.method=youden",
                                                "eval.threshold.positive=benign"])
    with pytest.raises(TrainingError, match="not one of the classes"):
        start_run(config, tmp_path / "run2")
