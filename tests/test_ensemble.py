"""Ensembles (model.ensemble): the members' mean probability, independent training, a run through export."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medvision_app.networks import build_model
from medvision_app.networks.config import ModelConfig
from medvision_app.networks.ensemble import EnsembleNet, combine_logits


def test_the_ensemble_predicts_the_mean_of_its_members_probabilities():
    torch.manual_seed(0)
    net = build_model(ModelConfig(name="pnet", input_size=28, in_channels=1, dense_units=16, ensemble=3), 3).eval()
    assert isinstance(net, EnsembleNet) and len(net.members) == 3
    # built one after the other, the members start from different weights
    first = [m.head.classifier.weight for m in net.members]
    assert not torch.equal(first[0], first[1]) and not torch.equal(first[1], first[2])
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        mean = torch.stack([torch.softmax(m(x), 1) for m in net.members]).mean(0)
        assert torch.allclose(torch.softmax(net(x), 1), mean, atol=1e-6)
    # one BCE logit per member: the sigmoid of the combined logit is the mean probability
    z = [torch.tensor([[2.0], [-1.0]]), torch.tensor([[0.0], [3.0]])]
    assert torch.allclose(torch.sigmoid(combine_logits(z)),
                          (torch.sigmoid(z[0]) + torch.sigmoid(z[1])) / 2, atol=1e-6)


def test_model_ensemble_is_checked():
    from medvision_app.utils.config_io import ConfigError

    with pytest.raises(ConfigError, match="model.ensemble"):
        build_model(ModelConfig(name="pnet", input_size=28, in_channels=1, ensemble=0), 2)


def test_each_member_trains_on_its_own_loss_as_if_alone():
    from medvision_app.data.dataset import InMemoryDataset
    from medvision_app.training.engine import Trainer
    from medvision_app.training.settings import TrainSettings

    rng = np.random.default_rng(0)
    data = InMemoryDataset((rng.random((8, 28, 28)) * 255).astype(np.uint8), np.arange(8) % 2)
    settings = TrainSettings(epochs=1, batch_size=8, optimizer="sgdm", momentum=0.0, lr=0.1, weight_decay=0.0,
                             device="cpu")
    config = ModelConfig(name="pnet", input_size=28, in_channels=1, dense_units=16, dense_dropout=0.0, ensemble=2)
    torch.manual_seed(1)
    ensemble = build_model(config, 2)
    alone = [copy.deepcopy(m) for m in ensemble.members]
    Trainer(ensemble, data, settings=settings, num_classes=2, default_handlers=False).run()
    for member, solo in zip(ensemble.members, alone, strict=True):
        before = solo.head.classifier.weight.detach().clone()
        Trainer(solo, data, settings=settings, num_classes=2, default_handlers=False).run()
        assert not torch.allclose(before, solo.head.classifier.weight)  # the step moved it
        for (name, a), (_, b) in zip(member.state_dict().items(), solo.state_dict().items(), strict=True):
            assert torch.allclose(a.float(), b.float(), atol=1e-5), name


@pytest.mark.slow
def test_an_ensemble_run_trains_exports_and_predicts_with_class_activation_maps(tmp_path, shared_data):
    from medvision_app.cli.main import main
    from medvision_app.inference import load_model, predict

    config = tmp_path / "ensemble.json"
    config.write_text(json.dumps({
        "data": {"path": str(shared_data / "breastmnist" / "breastmnist.npz"), "limit": 48},
        "model": {"name": "pnet", "pretrained": "none", "input_size": 28, "in_channels": 1, "dense_units": 16,
                  "ensemble": 2},
        "train": {"epochs": 1, "batch_size": 16, "cpu_threads": 1, "device": "cpu",
                  "early_stopping": {"enabled": False}},
    }))
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    weights = torch.load(run / "checkpoints" / "best.pt", weights_only=True)["model"]
    assert any(k.startswith("members.1.") for k in weights)
    out = tmp_path / "ensemble.onnx"
    assert main(["export", str(run), "--out", str(out)]) == 0
    model = load_model(out)
    assert model.card.architecture == "ensemble of 2 pnet" and model.card.heatmap == "cam"
    from medvision_app.inference.run_export import load_run

    net, _ = load_run(run)
    image = (np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)
    result = predict(image, model)
    from medvision_app.inference.predict import preprocess

    with torch.no_grad():
        x = torch.as_tensor(preprocess(image, model.card, model.card.pipeline())[0])
        expected = torch.softmax(net(x[None] if x.ndim == 3 else x), 1)[0].numpy()
    got = np.array([result.probabilities[c] for c in model.card.classes])
    assert np.allclose(got, expected, atol=1e-4)
    assert result.heatmap_kind == "cam" and result.model_space is not None


def test_shipped_configs_name_no_ensemble_above_the_limit():
    # the recipes that use an ensemble stay within ModelConfig's range
    from medvision_app.training.config import TrainConfig
    from medvision_app.utils.config_io import load_config

    for path in sorted(Path(__file__).resolve().parents[1].glob("examples/configs/recipe_*.toml")):
        cfg = load_config(TrainConfig, path)
        assert 1 <= cfg.model.ensemble <= 8, path.name


def test_grad_cam_of_an_ensemble_is_the_mean_of_its_members_maps():
    from medvision_app.explanation.attention import normalise
    from medvision_app.explanation.gradcam import grad_cam, gradcam_explainer

    torch.manual_seed(3)
    net = build_model(ModelConfig(name="pnet", input_size=28, in_channels=1, dense_units=16, ensemble=2), 2).eval()
    x = np.random.default_rng(1).random((1, 28, 28)).astype(np.float32)
    got = gradcam_explainer(net)(x, 1)
    maps = [grad_cam(m, x, target_class=1)[0] for m in net.members]
    assert got.shape == (28, 28)
    assert np.allclose(got, normalise(np.mean(maps, axis=0)))
    assert not np.allclose(maps[0], maps[1])  # two different networks: the mean is not either one


def test_a_search_retrains_its_answer_as_an_ensemble(tmp_path):
    from jobs_support import tiny_npz

    from medvision_app.search import SearchConfig, start_search
    from medvision_app.search.config import CandidateTraining, FinalTraining

    with pytest.raises(ValueError, match="final.ensemble > 1 needs final.init = 'scratch'"):
        SearchConfig(final=FinalTraining(ensemble=2, init="search"))
    cfg = SearchConfig(method="bbnas", data=str(tiny_npz(tmp_path / "tiny.npz")), children_per_iteration=1,
                       max_iterations=1, seed=5, inherit=False, device="cpu",
                       candidate=CandidateTraining(max_epochs=1, patience=1, batch_size=16),
                       final=FinalTraining(epochs=1, batch_size=16, ensemble=2))
    summary = start_search(cfg, tmp_path / "search")
    final = tmp_path / "search" / "final"
    config = json.loads((final / "config.json").read_text())
    assert config["model"]["ensemble"] == 2 and config["description"].startswith("ensemble of 2 x bbnas")
    weights = torch.load(final / "checkpoints" / "best.pt", weights_only=True)["model"]
    assert any(k.startswith("members.1.") for k in weights)
    assert summary["final"]["accuracy"] is not None

