"""Class activation maps inside the exported ONNX file: agree with Grad-CAM; refused heads say why."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from inference_support import tiny_card

from medvision_app.explanation import grad_cam
from medvision_app.explanation.cam import ClassActivationMaps, cam_support
from medvision_app.inference.export import export_module
from medvision_app.inference.model import CAM_OUTPUT, load_model
from medvision_app.inference.predict import predict
from medvision_app.networks import build_model
from medvision_app.networks.config import ModelConfig


def _pnet(seed: int = 0, size: int = 32):
    torch.manual_seed(seed)
    net = build_model(ModelConfig(name="pnet", pretrained="none", input_size=size, in_channels=1), 2).eval()
    # Random BN statistics so the maps are not flat.
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return net


def _blob_images(n: int, size: int = 32, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 0.1, (n, 1, size, size)).astype(np.float32)
    for i in range(n):
        r, c = rng.integers(4, size - 12, 2)
        images[i, 0, r:r + 8, c:c + 8] += 1.5
    return images


@pytest.mark.parametrize("target", [0, 1])
def test_cam_equals_grad_cam_at_the_feature_maps(target):
    net = _pnet()
    cam = ClassActivationMaps(net)
    x = torch.as_tensor(_blob_images(1))
    with torch.no_grad():
        fmap = net.features(x)
        ours = cam(fmap)[0, target].numpy()
    reference, _ = grad_cam(net, x, target_class=target, layer="features")
    assert ours.max() > 0
    # Grad-CAM upsamples to the input and normalises: do the same to ours
    ours_up = torch.nn.functional.interpolate(torch.as_tensor(ours)[None, None], size=x.shape[2:],
                                              mode="bilinear", align_corners=False)[0, 0].numpy()
    ours_up = (ours_up - ours_up.min()) / (ours_up.max() - ours_up.min())
    assert np.abs(ours_up - reference).max() < 1e-4


def test_pnet_without_attention_exports_a_cam_that_predict_uses(tmp_path):
    net = _pnet(seed=3)
    # An untrained net may predict a class with no positive evidence (an all-zero map, as in Grad-CAM):
    # make class 0 the sum of positive evidence and class 1 its opposite.
    with torch.no_grad():
        weight = net.head.classifier.weight
        weight[0] = weight[0].abs()
        weight[1] = -weight[0]
        net.head.classifier.bias.zero_()
    images = _blob_images(4)
    card = tiny_card(size=(32, 32), attention=False)
    path, diffs = export_module(net, card, images, tmp_path / "pnet.onnx")
    assert CAM_OUTPUT in diffs  # checked against PyTorch like the probabilities
    model = load_model(path)
    assert model.card.heatmap == "cam" and model.has_cam
    pred = predict(images[0, 0], model)
    assert pred.heatmap_kind == "cam"
    assert pred.heatmap.shape == (32, 32) and pred.heatmap.max() == pytest.approx(1.0)
    # the ONNX map matches Grad-CAM on the PyTorch network
    x = torch.as_tensor(images[:1])
    index = list(pred.probabilities).index(pred.predicted)
    reference, _ = grad_cam(net, x, target_class=index, layer="features")
    got = pred.heatmap_on((32, 32))
    assert np.corrcoef(got.ravel(), reference.ravel())[0, 1] > 0.99


def test_heads_without_a_cam_are_named_in_the_card(tmp_path):
    config = ModelConfig(name="alexnet", pretrained="none", input_size=64, in_channels=3)
    net = build_model(config, 2).eval()
    reason = cam_support(net)
    assert reason is not None and "global average pooling" in reason
    attention = build_model(ModelConfig(name="pnet", pretrained="none", input_size=32, in_channels=1,
                                        soft_attention=True, attention_maps=2), 2)
    assert "Soft-Attention" in cam_support(attention)


def test_squeezenet_conv_head_gives_its_class_maps():
    net = build_model(ModelConfig(name="squeezenet1_1", pretrained="none", input_size=64, in_channels=3), 2).eval()
    assert cam_support(net) is None
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        fmap = net.features(x)
        maps = ClassActivationMaps(net)(fmap)
        logits = net(x)
    # the head averages exactly these maps
    assert torch.allclose(maps.mean(dim=(2, 3)), logits, atol=1e-5)
