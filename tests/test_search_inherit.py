"""Children that inherit: before training, a deepened or widened child computes its parent's function."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medvision_app.networks.builder import build
from medvision_app.networks.genotype import FC, IB, SEIB, C, F, P, format_genotype
from medvision_app.search.inherit import alignment, inherit
from medvision_app.search.transforms import add_block, add_layer, concat, widen

SHAPE = (1, 12, 12)
PARENT = (C(6, 3), P(1, 1), IB(4, 4, 6, 2, 4, 4), P(2, 2), C(8, 1), F(), FC(16), FC(3))
SE_PARENT = (C(6, 3), P(1, 1), SEIB(16, 8, 16, 4, 8, 8), P(2, 2), F(), FC(3))


def _trained(genotype):
    """A parent with weights away from their initialisation (biases too), as training leaves them."""
    torch.manual_seed(1)
    net = build(genotype, SHAPE)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return net


def _check(parent_genotype, child_genotype, transformation, *, preserved=True):
    parent = _trained(parent_genotype).eval()
    child, info = inherit(format_genotype(parent_genotype), parent.state_dict(), format_genotype(child_genotype),
                          transformation, SHAPE, seed=3)
    x = torch.rand(5, *SHAPE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = parent(x), child.eval()(x)
    assert info.preserved is preserved
    if preserved:
        assert torch.allclose(got, want, atol=1e-5, rtol=0), float((got - want).abs().max())
    return child, info, got, want


@pytest.mark.parametrize("conv, pos", [(C(6, 1), 1), (C(12, 1), 2), (C(24, 1), 4)])
def test_identity_deepening_with_a_layer(conv, pos):
    child = add_layer(PARENT, conv, P(1, 1), position=pos)
    _, info, _, _ = _check(PARENT, child, f"add_layer({conv},{P(1, 1)},{pos})")
    assert 0.5 < info.inherited_fraction < 1.0


@pytest.mark.parametrize("parent", [PARENT, SE_PARENT])
@pytest.mark.parametrize("block", ["IB", "SEIB"])
@pytest.mark.parametrize("pos", [1, 3])
def test_identity_deepening_with_a_block(parent, block, pos):
    new = (IB if block == "IB" else SEIB)(32, 64, 128, 16, 32, 32)
    _check(parent, add_block(parent, new, position=pos), f"add_block({block},{pos})")


@pytest.mark.parametrize("parent, u", [(PARENT, 0), (PARENT, 2), (PARENT, 4), (PARENT, 6), (SE_PARENT, 2)])
@pytest.mark.parametrize("n", [16, 32])
def test_net2net_widening(parent, u, n):
    child_net, _, _, _ = _check(parent, widen(parent, u, n), f"widen({u},{n})")
    assert sum(p.numel() for p in child_net.parameters()) > sum(p.numel() for p in build(parent, SHAPE).parameters())


@pytest.mark.parametrize("u", [1, 2, 4])
def test_new_concat_branch_starts_at_zero(u):
    _check(PARENT, concat(PARENT, u), f"concat({u})")


def test_a_widened_concat_child_stays_exact():
    parent = concat(PARENT, 2)
    _check(parent, widen(parent, 2, 16), "widen(2,16)")


def test_map_size_changes_are_inherited_but_not_exact():
    child = add_layer(PARENT, C(16, 3), P(2, 2), position=2)
    child_net, info, got, want = _check(PARENT, child, "add_layer(C(16,3),P(2,2),2)", preserved=False)
    parent = _trained(PARENT)
    # the layers before the insertion are the parent's own
    assert torch.equal(child_net.layers[0][0].weight, parent.layers[0][0].weight)
    assert 0.3 < info.inherited_fraction < 1.0


def test_new_channels_are_read_with_zero_weights_that_learn():
    parent = _trained(PARENT)
    child = concat(PARENT, 2)  # C P IB Concat P C(8,1) ...: the Concat's first 6 channels are new
    net, info = inherit(format_genotype(PARENT), parent.state_dict(), format_genotype(child), "concat(2)", SHAPE)
    assert info.preserved
    consumer = net.layers[5][0]
    assert torch.count_nonzero(consumer.weight[:, :6]) == 0
    net(torch.rand(4, *SHAPE)).sum().backward()
    assert torch.count_nonzero(consumer.weight.grad[:, :6]) > 0


def test_cannot_carry_more_channels_than_the_new_layer_has():
    child = add_layer(PARENT, C(12, 1), P(1, 1), position=4)  # the IB gives 18 channels
    _check(PARENT, child, "add_layer(C(12,1),P(1,1),4)", preserved=False)


def test_alignment_of_each_transformation():
    g = PARENT
    assert alignment(g, widen(g, 0, 16), "widen(0,16)") == list(range(len(g)))
    assert alignment(g, add_layer(g, C(4, 1), P(1, 1), position=2), "add_layer(C(4,1),P(1,1),2)") == \
        [0, 1, None, None, 2, 3, 4, 5, 6, 7]
    assert alignment(g, concat(g, 2), "concat(2)") == [0, 1, 2, None, 3, 4, 5, 6, 7]
    assert alignment(g, g, "initial") is None
    assert alignment(g, add_block(g, IB(1, 1, 1, 1, 1, 1), position=1), "add_layer(C(4,1),P(1,1),1)") is None


def test_a_child_with_no_readable_transformation_trains_fresh():
    parent = _trained(PARENT)
    net, info = inherit(format_genotype(PARENT), parent.state_dict(), format_genotype(PARENT), "initial", SHAPE)
    assert not info.preserved and info.inherited_fraction == 0.0
    assert not torch.equal(net.layers[0][0].weight, parent.layers[0][0].weight)


def test_random_children_mostly_inherit():
    from medvision_app.search.transforms import random_child

    rng = np.random.default_rng(0)
    parent = _trained(PARENT)
    fractions = []
    for _ in range(12):
        child = random_child(PARENT, rng, block="IB", input_shape=SHAPE)
        net, info = inherit(format_genotype(PARENT), parent.state_dict(), format_genotype(child.genotype),
                            child.transformation, SHAPE)
        assert torch.isfinite(net(torch.rand(2, *SHAPE))).all()
        fractions.append(info.inherited_fraction)
    assert np.mean(fractions) > 0.3


def test_many_random_lineages_inherit_or_fall_back_without_failing():
    """Children of children, drawn at random: inheritance never raises and keeps the net finite."""
    from medvision_app.search.transforms import random_child

    rng = np.random.default_rng(5)
    genotype, state = PARENT, _trained(PARENT).state_dict()
    x = torch.rand(3, *SHAPE)
    preserved = 0
    for _ in range(12):
        child = random_child(genotype, rng, block="SEIB", input_shape=SHAPE)
        net, info = inherit(format_genotype(genotype), state, format_genotype(child.genotype), child.transformation,
                            SHAPE, seed=1)
        with torch.no_grad():
            got = net.eval()(x)
            assert torch.isfinite(got).all()
            if info.preserved:  # whatever the lineage, "preserved" means the parent's function
                parent = build(genotype, SHAPE)
                parent.load_state_dict(state)
                assert torch.allclose(got, parent.eval()(x), atol=1e-5, rtol=0)
                preserved += 1
        genotype, state = child.genotype, net.state_dict()
    assert preserved >= 3
