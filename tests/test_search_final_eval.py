"""A search's retrained network is evaluated as a training run's model: flips, temperature, threshold."""

from __future__ import annotations

import json

import numpy as np
import pytest

from medvision_app.evaluation.settings import EvalSettings, ThresholdSettings
from medvision_app.networks import ModelConfig, SearchedArchitecture
from medvision_app.search.data import SearchData
from medvision_app.search.final import retrain_and_evaluate
from medvision_app.search.runner import _brief

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data() -> SearchData:
    rng = np.random.default_rng(0)
    y = (np.arange(24) % 2).astype(np.int64)
    # class "b" is brighter on the left half, so the flip changes the logits
    x = rng.random((24, 1, 8, 8), dtype=np.float32) * 0.5
    x[y == 1, :, :, :4] += 0.5
    return SearchData(x[:16], y[:16], x[16:20], y[16:20], x[20:], y[20:], ["a", "b"])


def _model() -> ModelConfig:
    return ModelConfig(name="genotype", pretrained="none", input_size=8, in_channels=1,
                       architecture=SearchedArchitecture(text="C(4,3) F() FC(2)"))


def test_final_eval_settings_give_a_threshold_a_temperature_and_are_saved(tmp_path):
    settings = EvalSettings(tta="hflip", temperature_scaling=True,
                            threshold=ThresholdSettings(method="youden", positive="b"))
    run_dir = tmp_path / "final"
    report = retrain_and_evaluate(_model(), _data(), str(tmp_path), run_dir, epochs=2, patience=2, batch_size=4,
                                  device="cpu", cosine=True, eval_settings=settings)
    assert report["tta"] == "hflip"
    assert report["calibration"]["fitted_on"] == "val" and report["calibration"]["temperature"] > 0
    chosen = report["operating_threshold"]
    assert chosen["positive_class"] == "b" and 0.0 <= chosen["threshold"] <= 1.0
    assert 0.0 <= chosen["test"]["accuracy"] <= 1.0
    # what the export and the dashboard read back
    point = json.loads((run_dir / "operating_point.json").read_text())
    assert point["threshold"] == pytest.approx(chosen["threshold"]) and point["class"] == "a"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["eval"]["tta"] == "hflip" and config["eval"]["threshold"]["method"] == "youden"
    brief = _brief("genotype", run_dir, report)
    assert brief["accuracy"] == chosen["test"]["accuracy"] and brief["argmax_accuracy"] == report["accuracy"]
    assert brief["threshold"] == chosen["threshold"]


def test_without_eval_settings_the_answer_is_the_arg_max(tmp_path):
    report = retrain_and_evaluate(_model(), _data(), str(tmp_path), tmp_path / "final", epochs=1, patience=1,
                                  batch_size=4, device="cpu")
    assert "operating_threshold" not in report and not (tmp_path / "final" / "operating_point.json").exists()
    assert "argmax_accuracy" not in _brief("genotype", tmp_path / "final", report)


def test_a_threshold_for_a_class_the_data_lack_is_refused_before_training(tmp_path):
    settings = EvalSettings(threshold=ThresholdSettings(method="youden", positive="malignant"))
    with pytest.raises(ValueError, match="final.eval.*malignant"):
        retrain_and_evaluate(_model(), _data(), str(tmp_path), tmp_path / "final", epochs=1, patience=1,
                             batch_size=4, device="cpu", eval_settings=settings)
    assert not (tmp_path / "final" / "metrics.jsonl").exists()


def test_the_answer_can_start_from_the_weights_the_search_trained(tmp_path):
    import torch

    from medvision_app.networks import build_model
    from medvision_app.networks.builder import build
    from medvision_app.networks.genotype import parse
    from medvision_app.networks.searched import load_search_weights

    text = "C(4,3) P(2,2) SEIB(4,4,8,2,4,4) F() FC(6) FC(2)"
    torch.manual_seed(1)
    searched = build(parse(text), (1, 8, 8)).eval()
    config = ModelConfig(name="genotype", pretrained="none", input_size=8, in_channels=1,
                         architecture=SearchedArchitecture(text=text))
    model = build_model(config, 2).eval()
    x = torch.rand(3, 1, 8, 8)
    assert not torch.allclose(model(x), searched(x))
    load_search_weights(model, searched.state_dict())
    assert torch.allclose(model(x), searched(x), atol=1e-6)  # the same function, layer for layer
    other = build(parse("C(4,3) P(2,2) F() FC(2)"), (1, 8, 8)).state_dict()
    with pytest.raises(ValueError, match="tensors|does not fit"):
        load_search_weights(model, other)


def test_final_init_search_without_kept_weights_is_refused(tmp_path):
    from medvision_app.search.runner import _search_weights
    from medvision_app.search.state import SearchStateError

    with pytest.raises(SearchStateError, match="weights/3-1.pt"):
        _search_weights(tmp_path, "3-1")


def test_final_augmentation_transforms_the_training_images_and_is_saved(tmp_path):
    from medvision_app.augmentation import AugmentationConfig
    from medvision_app.search.state import SearchStateError

    def first_loss(name: str, augmentation=None) -> float:
        run_dir = tmp_path / name
        retrain_and_evaluate(_model(), _data(), str(tmp_path), run_dir, epochs=1, patience=1, batch_size=4,
                             device="cpu", augmentation=augmentation)
        return json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])["train_loss"]

    flipped = AugmentationConfig(horizontal_flip=1.0)
    # the same seed trains the same steps, so only the flipped images can change the loss
    assert first_loss("plain") == first_loss("plain-again")
    assert first_loss("flipped", flipped) != first_loss("plain-too")
    config = json.loads((tmp_path / "flipped" / "config.json").read_text())
    assert config["augmentation"]["horizontal_flip"] == 1.0  # evaluate and a resume read it back
    # a retraining is not continued under other transforms
    (tmp_path / "flipped" / "eval.json").unlink()
    with pytest.raises(SearchStateError, match="augmentation"):
        retrain_and_evaluate(_model(), _data(), str(tmp_path), tmp_path / "flipped", epochs=2, patience=2,
                             batch_size=4, device="cpu")


def test_search_config_reads_final_augmentation_from_toml(tmp_path):
    from medvision_app.search.config import SearchConfig
    from medvision_app.utils.config_io import load_config

    path = tmp_path / "search.toml"
    path.write_text('method = "bbnas"\ndata = "x"\n[final.augmentation.rotation]\nprobability = 1.0\n'
                    'degrees = [-10.0, 10.0]\n')
    cfg = load_config(SearchConfig, path)
    assert cfg.final.augmentation.rotation.degrees == (-10.0, 10.0)
