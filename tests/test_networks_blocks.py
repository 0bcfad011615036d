"""Building blocks: Inception counts, SE gate, depthwise residual, Soft-Attention."""

from __future__ import annotations

import pytest
import torch

from medvision_app.networks import (
    DepthwiseResidualBlock,
    InceptionBlock,
    SEInceptionBlock,
    SoftAttention,
    SoftAttentionHead,
    SqueezeExcitation,
    count_parameters,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_inception_parameter_count_matches_bbnas_table():
    block = InceptionBlock(64, 32, 64, 128, 16, 32, 32)
    expected = (
        32 * 64 + 32  # 1x1
        + 64 * 64 + 64  # 3x3 reduce
        + 128 * 64 * 9 + 128  # 3x3
        + 16 * 64 + 16  # 5x5 reduce
        + 32 * 16 * 25 + 32  # true 5x5
        + 32 * 64 + 32  # pool projection
    )
    assert count_parameters(block) == expected == 96_048
    assert block.out_channels == 224
    out = block(torch.rand(2, 64, 9, 11))
    assert out.shape == (2, 224, 9, 11)
    assert (out >= 0).all()  # ReLU after every branch


def test_inception_batch_norm_option_drops_conv_biases():
    plain = InceptionBlock(8, 4, 4, 4, 4, 4, 4)
    bn = InceptionBlock(8, 4, 4, 4, 4, 4, 4, batch_norm=True)
    n_convs = 6
    # each conv loses its bias (4) and gains BN weight and bias (8)
    assert count_parameters(bn) == count_parameters(plain) + n_convs * 4


def test_inception_rejects_bad_width():
    with pytest.raises(ValueError, match="c5r"):
        InceptionBlock(64, 32, 64, 128, 0, 32, 32)


def test_squeeze_excitation_gate_in_unit_interval_and_shapes():
    torch.manual_seed(0)
    se = SqueezeExcitation(64, reduction=16)
    assert se.fc1.out_features == 4
    x = torch.randn(2, 64, 5, 5) * 10
    gate = se.scale(x)
    assert gate.shape == (2, 64, 1, 1)
    assert ((gate > 0) & (gate < 1)).all()
    assert torch.allclose(se(x), x * gate)


def test_se_inception_is_inception_then_se():
    block = SEInceptionBlock(16, 8, 8, 8, 4, 8, 8, reduction=4)
    x = torch.rand(2, 16, 6, 6)
    inner = block.inception(x)
    assert torch.allclose(block(x), inner * block.se.scale(inner))
    assert block.out_channels == 32


def test_depthwise_residual_identity_and_projection():
    same = DepthwiseResidualBlock(16, 16, expansion=4)
    assert not same.has_projection
    assert same.body[3].groups == 64  # depthwise over the expanded width
    x = torch.rand(2, 16, 8, 8)
    assert torch.allclose(same(x), same.body(x) + x)

    wider = DepthwiseResidualBlock(3, 32, expansion=6, stride=2)
    assert wider.has_projection
    assert wider(torch.rand(2, 3, 8, 8)).shape == (2, 32, 4, 4)
    strided_same = DepthwiseResidualBlock(8, 8, expansion=2, stride=2)
    assert strided_same.has_projection


def test_soft_attention_maps_sum_to_one_and_output_shape():
    torch.manual_seed(0)
    sa = SoftAttention(32, k=16)
    t = torch.rand(2, 32, 7, 5)
    out, maps = sa(t)
    assert out.shape == t.shape
    assert maps.shape == (2, 16, 7, 5)
    assert torch.allclose(maps.sum(dim=(2, 3)), torch.ones(2, 16), atol=1e-5)
    # gamma starts at 0: the attended features start at zero, then scale with gamma
    assert torch.count_nonzero(out) == 0
    with torch.no_grad():
        sa.gamma.fill_(2.0)
    out, maps = sa(t)
    assert torch.allclose(out, 2.0 * maps.sum(1, keepdim=True) * t)


def test_soft_attention_head_with_extra_features():
    head = SoftAttentionHead(32, num_classes=7, k=4, dropout=0.5, extra_features=3)
    logits, maps = head(torch.rand(2, 32, 6, 6), torch.rand(2, 3))
    assert logits.shape == (2, 7)
    assert maps.shape == (2, 4, 6, 6)
    assert head.classifier.in_features == 2 * 32 + 3
    with pytest.raises(ValueError, match="extra features"):
        head(torch.rand(2, 32, 6, 6))


def test_soft_attention_gradient_reaches_gamma():
    sa = SoftAttention(8, k=2)
    out, _ = sa(torch.rand(2, 8, 4, 4))
    out.sum().backward()
    assert sa.gamma.grad is not None and sa.gamma.grad.abs().item() > 0
