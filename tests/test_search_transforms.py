"""The four Randomization transformations and the seeded child generator."""

from __future__ import annotations

import numpy as np
import pytest

from medvision_app.networks.builder import count_parameters, validate
from medvision_app.networks.genotype import IB, SEIB, C, P, format_genotype, initial_genotype, parse
from medvision_app.search.transforms import add_block, add_layer, concat, random_child, repair, widen

MNIST = (1, 28, 28)
M = initial_genotype("IB", 10)

pytestmark = pytest.mark.usefixtures("one_torch_thread")



def test_add_layer_gives_table_iii_m0():
    child = add_layer(M, C(64, 1), P(1, 1))
    assert format_genotype(child) == "C(64,3) P(1,1) IB(32,64,128,16,32,32) P(1,1) C(64,1) P(1,1) F() FC(10)"
    assert count_parameters(child, MNIST) == 543_738


def test_add_block_gives_table_iii_m1():
    child = add_block(M, IB(32, 64, 128, 16, 32, 32))
    assert count_parameters(child, MNIST) == 1_730_026
    se = add_block(M, SEIB(32, 64, 128, 16, 32, 32), position=1)
    assert se[1].kind == "SEIB" and len(se) == len(M) + 1


def test_widen_inception_grows_its_four_output_convolutions():
    child = widen(M, 2, 32)
    assert str(child[2]) == "IB(64,64,160,16,64,64)"
    assert str(widen(M, 0, 16)[0]) == "C(80,3)"
    with pytest.raises(ValueError, match="no filters"):
        widen(M, 1, 32)  # a pooling layer
    with pytest.raises(ValueError, match="no filters"):
        widen(M, len(M) - 1, 8)  # the class layer keeps its width


def test_concat_gives_table_iii_m3():
    child = concat(M, 3)
    assert format_genotype(child) == "C(64,3) P(1,1) IB(32,64,128,16,32,32) P(1,1) Concat() F() FC(10)"
    assert count_parameters(child, MNIST) == 3_125_178


def test_transformations_never_mutate_their_input():
    before = tuple(M)
    add_layer(M, C(8, 3), P(2, 2))
    widen(M, 2, 16)
    concat(M, 3)
    assert M == before


def test_repair_shrinks_a_collapsing_child():
    deep = parse("C(64,3) P(2,2) C(16,5) P(2,2) C(16,5) P(2,2) F() FC(10)")
    fixed = repair(deep, MNIST)
    assert fixed is not None
    validate(fixed, MNIST)
    assert [layer.kind for layer in fixed] == [layer.kind for layer in deep]


def test_random_children_are_valid_new_and_reproducible():
    def draw(seed):
        rng = np.random.default_rng(seed)
        g, seen, out = M, {format_genotype(M)}, []
        for _ in range(25):
            child = random_child(g, rng, block="IB", input_shape=MNIST, max_params=8_000_000, exclude=frozenset(seen))
            validate(child.genotype, MNIST)
            text = format_genotype(child.genotype)
            assert text not in seen
            assert count_parameters(child.genotype, MNIST) <= 8_000_000
            seen.add(text)
            out.append((child.transformation, text))
            g = child.genotype
        return out

    first = draw(3)
    assert first == draw(3)
    assert first != draw(4)
    kinds = {t.split("(")[0] for t, _ in first}
    assert kinds == {"add_layer", "add_block", "widen", "concat"}
