"""Soft-Attention heatmaps, Grad-CAM / Grad-CAM++ and the overlay renderer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from inference_support import TinyCnn
from PIL import Image
from torch import nn

from medvision_app.explanation import (
    apply_colormap,
    attention_heatmap,
    find_target_layer,
    grad_cam,
    overlay_heatmap,
    save_overlay_png,
)


def test_attention_heatmap_sums_maps_upsamples_and_normalises():
    maps = np.zeros((3, 4, 4), np.float32)
    maps[0, 1, 1] = 1.0
    maps[2, 1, 1] = 1.0
    maps[1, 3, 2] = 1.0
    small = attention_heatmap(maps)
    assert small.max() == 1.0 and small.min() == 0.0 and small[3, 2] == pytest.approx(0.5)
    big = attention_heatmap(maps, size=(16, 16))
    assert big.shape == (16, 16) and big.dtype == np.float32
    assert np.unravel_index(np.argmax(big), big.shape) in {(5, 5), (5, 6), (6, 5), (6, 6)}
    assert not attention_heatmap(np.ones((2, 3, 3))).any()
    with pytest.raises(ValueError, match="shape"):
        attention_heatmap(np.zeros((1, 2, 3, 4)))


def _bright_spot_net() -> nn.Module:
    """Class 1's logit grows with image brightness, class 0's shrinks: CAMs are known."""
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(1, 2))
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].weight[0, 0, 1, 1] = 1.0
        net[0].bias.zero_()
        net[4].weight.copy_(torch.tensor([[-1.0], [1.0]]))
        net[4].bias.zero_()
    return net


def _spot(shape=(24, 24), at=(6, 17)) -> np.ndarray:
    image = np.zeros((1, *shape), np.float32)
    image[0, at[0] - 1 : at[0] + 2, at[1] - 1 : at[1] + 2] = 1.0
    image[0, at[0], at[1]] = 2.0
    return image


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_grad_cam_finds_the_evidence_and_releases_hooks(method):
    net = _bright_spot_net()
    image = _spot()
    cam, target = grad_cam(net, image, target_class=1, method=method)
    assert target == 1 and cam.shape == (24, 24) and cam.dtype == np.float32
    assert np.unravel_index(np.argmax(cam), cam.shape) == (6, 17)
    # class 0 is evidence against brightness: nothing positive to show
    against, _ = grad_cam(net, image, target_class=0, method=method)
    assert not against.any()
    assert all(not m._forward_hooks and not m._backward_hooks for m in net.modules())
    assert net.training  # mode restored
    flipped, _ = grad_cam(net, image[:, :, ::-1].copy(), target_class=1, method=method)
    np.testing.assert_allclose(flipped, cam[:, ::-1], atol=1e-6)


def test_target_layer_found_automatically_and_overridable():
    net = TinyCnn()
    x = torch.zeros(1, 1, 16, 16)
    assert find_target_layer(net, x) == "features.2"
    cam_auto, _ = grad_cam(net, x[0].numpy() + np.random.default_rng(0).random((1, 16, 16), dtype=np.float32))
    assert cam_auto.shape == (16, 16)
    cam_first, _ = grad_cam(net, np.ones((1, 16, 16), np.float32), layer="features.0")
    assert cam_first.shape == (16, 16)
    with pytest.raises(ValueError, match="not found"):
        grad_cam(net, np.ones((1, 16, 16), np.float32), layer="nope")
    with pytest.raises(ValueError, match="method"):
        grad_cam(net, np.ones((1, 16, 16), np.float32), method="cam")
    assert all(not m._forward_hooks for m in net.modules())


def test_hooks_released_when_the_forward_fails():
    net = TinyCnn()
    with pytest.raises(RuntimeError):
        grad_cam(net, np.ones((2, 16, 16), np.float32), layer="features.2")  # 2 channels, net takes 1
    assert all(not m._forward_hooks for m in net.modules())


def test_colormap_and_overlay():
    heat = np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)
    rgb = apply_colormap(heat, "jet")
    assert rgb.shape == (4, 5, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (0, 0, 128) and tuple(rgb[-1, -1]) == (128, 0, 0)
    image = np.full((4, 5), 100, np.uint8)
    assert np.array_equal(overlay_heatmap(image, heat, opacity=0.0), np.repeat(image[..., None], 3, axis=2))
    full = overlay_heatmap(image, heat, opacity=1.0, threshold=0.5)
    assert np.array_equal(full[heat > 0.5], rgb[heat > 0.5])
    assert np.all(full[heat <= 0.5] == 100)
    before = image.copy()
    overlay_heatmap(image, heat)
    assert np.array_equal(image, before)
    with pytest.raises(ValueError, match="does not match"):
        overlay_heatmap(image, heat[:3])
    with pytest.raises(ValueError, match="opacity"):
        overlay_heatmap(image, heat, opacity=2)
    with pytest.raises(ValueError, match="colormap"):
        apply_colormap(heat, "rainbowz")


def test_overlay_png_export(tmp_path):
    image = np.random.default_rng(0).random((30, 40, 3)).astype(np.float32)
    heat = np.zeros((30, 40), np.float32)
    heat[10:20, 10:20] = 1.0
    out = save_overlay_png(tmp_path / "sub" / "o.png", image, heat, colormap="inferno", opacity=0.5)
    back = np.asarray(Image.open(out))
    assert back.shape == (30, 40, 3)
    assert np.array_equal(back, overlay_heatmap(image, heat, colormap="inferno", opacity=0.5))
