"""Registry, P-NET size, every architecture's forward, metadata fusion, parameter groups, complexity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medvision_app.networks import (
    MedVisionNet,
    ModelConfig,
    available_models,
    build_model,
    count_flops,
    count_parameters,
)
from medvision_app.networks.pnet import pool_schedule
from medvision_app.utils.config_io import ConfigError, from_dict, to_dict

EXPECTED = {
    "alexnet", "squeezenet1_1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
    "resnet50", "resnet152", "densenet201", "efficientnet_lite0", "pnet",
}
HEAVY = {"resnet152", "densenet201"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_registry_names():
    assert EXPECTED <= set(available_models())


def test_pnet_size_at_224_matches_paper():
    model = build_model(ModelConfig(name="pnet"), num_classes=2)
    params = count_parameters(model)
    macs = count_flops(model, 224)
    # paper: ~1.05 M parameters, 1.69 GFLOPs (= 2 x multiply-adds)
    assert params == pytest.approx(1.05e6, rel=0.01)
    assert 2 * macs == pytest.approx(1.69e9, rel=0.01)
    assert params == 1_045_554 and macs == 847_237_632
    assert model.features.out_channels == 256


@pytest.mark.parametrize(("size", "pools", "side"), [(224, 5, 7), (64, 3, 8), (28, 2, 7), (12, 0, 12)])
def test_pnet_adapts_pooling_to_input_size(size, pools, side):
    assert sum(pool_schedule(size, 5)) == pools
    model = build_model(ModelConfig(name="pnet", input_size=size), num_classes=2).eval()
    with torch.no_grad():
        fmap = model.features(torch.rand(1, 3, size, size))
    assert fmap.shape[-2:] == (side, side)
    # parameters do not depend on the input size
    assert count_parameters(model) == 1_045_554


def test_pnet_rejects_input_below_target():
    with pytest.raises(ConfigError, match="input_size"):
        build_model(ModelConfig(name="pnet", input_size=5), num_classes=2)


def test_pnet_grayscale_adapts_first_conv():
    model = build_model(ModelConfig(name="pnet", in_channels=1, input_size=28), num_classes=2)
    assert not model.gray_to_rgb
    assert model.features.blocks[0].body[0].in_channels == 1
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 2)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("attention", [False, True])
def test_every_model_builds_and_runs(name, attention):
    config = ModelConfig(name=name, soft_attention=attention, input_size=32, attention_maps=4)
    model = build_model(config, num_classes=3)
    assert isinstance(model, MedVisionNet)
    assert model.has_attention is attention
    if name in HEAVY and not attention:
        return  # built, but a forward pass of the full network is left to the attention variant
    model.eval()
    with torch.no_grad():
        logits, maps = model.forward_with_attention(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 3)
    if attention:
        assert maps.shape[:2] == (2, 4)
        assert torch.allclose(maps.sum(dim=(2, 3)), torch.ones(2, 4), atol=1e-5)
    else:
        assert maps is None
    assert logits.isfinite().all()


def test_grayscale_repeated_for_imagenet_backbones():
    model = build_model(ModelConfig(name="mobilenet_v3_small", in_channels=1), num_classes=2).eval()
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), model.head(model.neck(model.features(x.repeat(1, 3, 1, 1))))[0])
    with pytest.raises(ValueError, match="N x 1 x H x W"):
        model(torch.rand(2, 3, 64, 64))


@pytest.mark.parametrize("name", ["squeezenet1_1", "pnet", "mobilenet_v3_small"])
@pytest.mark.parametrize("attention", [False, True])
def test_metadata_changes_output(name, attention):
    torch.manual_seed(0)
    config = ModelConfig(name=name, metadata=True, metadata_hidden=8, soft_attention=attention, input_size=32)
    model = build_model(config, num_classes=2, metadata_features=5).eval()
    if attention:
        with torch.no_grad():
            model.head.attention.gamma.fill_(1.0)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        a = model(x, torch.zeros(2, 5))
        b = model(x, torch.ones(2, 5))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="metadata"):
        model(x)
    with pytest.raises(ValueError, match="metadata"):
        model(x, torch.zeros(2, 4))


def test_metadata_on_without_features_is_a_config_error():
    with pytest.raises(ConfigError, match="metadata"):
        build_model(ModelConfig(name="pnet", metadata=True), num_classes=2)


def test_squeezenet_keeps_conv_classifier_and_alexnet_replaces_fc8():
    squeeze = build_model(ModelConfig(name="squeezenet1_1"), num_classes=3)
    assert isinstance(squeeze.head.classifier, nn.Conv2d) and squeeze.head.classifier.out_channels == 3
    alex = build_model(ModelConfig(name="alexnet"), num_classes=3)
    assert alex.head.classifier.in_features == 4096 and alex.head.classifier.out_features == 3
    # fc6 / fc7 are kept from the backbone, not new
    assert not any(alex.is_new_parameter(n) for n, _ in alex.neck.named_parameters(prefix="neck"))


def test_parameter_groups_lr_factor_and_decay():
    config = ModelConfig(name="squeezenet1_1", new_layer_lr_factor=20.0, soft_attention=True, attention_maps=4)
    model = build_model(config, num_classes=3)
    groups = model.parameter_groups(1e-4, 1e-4)
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == {"base_decay", "base_no_decay", "new_decay", "new_no_decay"}
    assert by_name["new_decay"]["lr"] == pytest.approx(2e-3)
    assert by_name["base_decay"]["lr"] == pytest.approx(1e-4)
    assert by_name["base_no_decay"]["weight_decay"] == 0.0 and by_name["new_no_decay"]["weight_decay"] == 0.0
    assert by_name["new_decay"]["weight_decay"] == pytest.approx(1e-4)
    grouped = [p for g in groups for p in g["params"]]
    assert len(grouped) == len(list(model.parameters())) == len({id(p) for p in grouped})
    new_ids = {id(p) for p in by_name["new_decay"]["params"] + by_name["new_no_decay"]["params"]}
    assert id(model.head.attention.gamma) in new_ids and id(model.head.classifier.weight) in new_ids
    assert all(p.dim() < 2 for p in by_name["base_no_decay"]["params"])
    optimiser = torch.optim.Adam(groups)
    assert len(optimiser.param_groups) == 4


def test_count_flops_of_known_layers():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Flatten(), nn.Linear(8 * 10 * 10, 5)
    )
    expected = 10 * 10 * 8 * 3 * 9 + 10 * 10 * 8 * 1 * 9 + 800 * 5
    assert count_flops(model, 10) == expected
    assert count_parameters(model) == 8 * 27 + 8 + 8 * 9 + 8 + 800 * 5 + 5


def test_model_config_round_trips_and_validation():
    config = ModelConfig(name="efficientnet_lite0", soft_attention=True, dense_dropout=0.3)
    assert from_dict(ModelConfig, to_dict(config)) == config
    with pytest.raises(ConfigError, match="unknown model"):
        build_model(ModelConfig(name="vgg99"), num_classes=2)
    with pytest.raises(ConfigError, match="pretrained"):
        build_model(ModelConfig(name="pnet", pretrained="yes"), num_classes=2)
    with pytest.raises(ConfigError, match="weights_path"):
        build_model(ModelConfig(name="alexnet", weights_path="/x.pth"), num_classes=2)
    with pytest.raises(ConfigError, match="from scratch"):
        build_model(ModelConfig(name="pnet", pretrained="imagenet"), num_classes=2)


def _bn_momenta(model: nn.Module) -> set:
    return {m.momentum for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}


def test_bn_momentum_overrides_every_batch_norm_layer():
    config = ModelConfig(name="efficientnet_lite0", input_size=64)
    assert _bn_momenta(build_model(config, 2)) == {0.01}  # the TF weights' own
    config.bn_momentum = 0.1
    assert _bn_momenta(build_model(config, 2)) == {0.1}
    config.bn_momentum = 0.0
    with pytest.raises(ConfigError, match="model.bn_momentum"):
        build_model(config, 2)
