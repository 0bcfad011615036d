"""Exporting a training run folder, Grad-CAM from its checkpoint, and the shipped demo model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medvision_app.cli.main import main
from medvision_app.inference import load_model, predict
from medvision_app.inference.registry import SHIPPED_DIR
from medvision_app.utils.config_io import save_config

DEMO = SHIPPED_DIR / "breastmnist.onnx"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, shared_data) -> Path:
    """A run folder as ``medvision train`` leaves it, with untrained weights (training is not under test)."""
    from medvision_app.data.config import DataConfig
    from medvision_app.networks import build_model
    from medvision_app.networks.config import ModelConfig
    from medvision_app.preprocessing import PipelineConfig, StepConfig
    from medvision_app.training.config import RunFacts, TrainConfig

    folder = tmp_path_factory.mktemp("run")
    model = ModelConfig(name="pnet", input_size=32, in_channels=1, soft_attention=True, attention_maps=4)
    torch.manual_seed(0)
    net = build_model(model, 2)
    config = TrainConfig(
        data=DataConfig(path=str(shared_data / "breastmnist" / "breastmnist.npz"), limit=6),
        model=model,
        preprocessing=PipelineConfig([StepConfig("resize", {"height": 32, "width": 32, "mode": "pad"})]),
        run=RunFacts(classes=["malignant", "normal, benign"], input_mean=list(net.input_mean),
                     input_std=list(net.input_std)),
    )
    save_config(config, folder / "config.json")
    (folder / "checkpoints").mkdir()
    torch.save({"model": net.state_dict(), "epoch": 1}, folder / "checkpoints" / "best.pt")
    (folder / "eval.json").write_text(json.dumps({
        "split": "test", "n_samples": 6, "accuracy": 0.5, "auc": 0.6,
        "ci": {"accuracy": {"low": 0.2, "high": 0.8}, "auc": {"low": 0.3, "high": 0.9}}}))
    return folder


def test_export_run_builds_a_complete_card(run_dir, tmp_path, capsys):
    out = tmp_path / "run.onnx"
    assert main(["export", str(run_dir), "--out", str(out), "--name", "pnet-test"]) == 0
    assert "max |ONNX - PyTorch| on 6 real images" in capsys.readouterr().out
    card = load_model(out).card
    assert card.name == "pnet-test" and card.classes == ["malignant", "normal, benign"]
    assert card.input_size == (32, 32) and card.input_channels == 1 and card.attention
    assert card.preprocessing["steps"][0]["op"] == "resize"
    recorded = json.loads((run_dir / "config.json").read_text())["run"]
    assert card.input_mean == recorded["input_mean"] and card.input_std == recorded["input_std"]
    assert card.metrics["auc"].value == 0.6 and card.metrics["auc"].ci_low == 0.3
    assert card.training_data.class_counts["train"]["malignant"] + \
        card.training_data.class_counts["train"]["normal, benign"] == 6
    assert len(card.training_data.file_list_sha256) == 64
    assert card.intended_use == "Decision support for research; not a diagnosis."


def test_export_run_reports_progress_and_can_be_cancelled(run_dir, tmp_path):
    from medvision_app.events import Cancelled, CancelToken
    from medvision_app.inference.run_export import export_run

    events = []
    result = export_run(run_dir, tmp_path / "a.onnx", emit=events.append)
    assert [(e.done, e.total) for e in events] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    # the P-NET Soft-Attention maps from ONNX are those of the PyTorch module
    assert result.checked == 6 and result.diffs["probabilities"] <= 1e-4 and result.diffs["attention"] <= 1e-4
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        export_run(run_dir, tmp_path / "b.onnx", cancel=token)
    assert not (tmp_path / "b.onnx").exists()


def test_export_of_a_folder_that_is_not_a_run_exits_2(tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path}: not a training run")


def test_grad_cam_from_the_runs_checkpoint(run_dir, shared_data):
    from medvision_app.explanation import gradcam_explainer
    from medvision_app.inference.run_export import load_run

    net, _ = load_run(run_dir)
    explainer = gradcam_explainer(net, method="gradcam++")
    x = np.random.default_rng(0).random((1, 32, 32), dtype=np.float32)
    cam = explainer(x, 1)
    assert cam.shape == (32, 32) and 0.0 <= cam.min() and cam.max() <= 1.0
    assert explainer.layer.startswith("features.")
    assert all(not m._forward_hooks for m in net.modules())


@pytest.mark.skipif(not DEMO.is_file(), reason="the demo model has not been exported into models/")
def test_demo_model_loads_and_predicts_breastmnist_test_images(shared_data):
    model = load_model(DEMO)
    assert model.card.training_data.licence == "CC BY 4.0"
    assert "MedMNIST" in model.card.training_data.citation
    with np.load(shared_data / "breastmnist" / "breastmnist.npz") as npz:
        images, labels = npz["test_images"][:40], npz["test_labels"][:40, 0]
    hits = 0
    for image, label in zip(images, labels, strict=False):
        pred = predict(image.astype(np.float32) / 255.0, model)
        assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert pred.heatmap.shape == (28, 28)
        hits += pred.predicted == model.card.classes[label]
    assert hits / len(labels) >= 0.7


def test_cli_predict_with_grad_cam_from_the_run(run_dir, tmp_path, shared_data, capsys):
    model = tmp_path / "run.onnx"
    assert main(["export", str(run_dir), "--out", str(model)]) == 0
    png = shared_data / "busi-256" / "benign" / "benign (1).png"
    args = ["predict", str(model), str(png), "--json", "--gradcam", str(run_dir), "--cam-method", "gradcam++",
            "--heatmap", str(tmp_path / "hm")]
    capsys.readouterr()
    assert main(args) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["heatmap"] == "grad-cam++"
    assert (tmp_path / "hm" / "benign (1).heatmap.png").is_file()
    assert main(args[:3] + ["--gradcam", str(tmp_path)]) == 2
