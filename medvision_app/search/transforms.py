"""The four Randomization transformations of BbNAS and a seeded random child generator.

Layer indices are 0-based Python indices into the genotype, so the paper's
``Widen(M, 3, 32)`` (1-based) is ``widen(M, 2, 32)`` here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from medvision_app.networks.builder import InvalidGenotype, count_parameters, validate
from medvision_app.networks.genotype import BLOCKS, C, Concat, Genotype, Layer, P, format_genotype

log = logging.getLogger(__name__)

DEFAULT_BLOCK_WIDTHS = (32, 64, 128, 16, 32, 32)
LAYER_FILTERS = (16, 32, 64, 128)
LAYER_KERNELS = (1, 3, 5)
LAYER_POOLS = ((1, 1), (2, 2))
WIDEN_BY = (16, 32)


@dataclass(frozen=True)
class Child:
    genotype: Genotype
    transformation: str  # e.g. "widen(2,32)", in the form the history records


def _flatten_index(genotype: Sequence[Layer]) -> int:
    for i, layer in enumerate(genotype):
        if layer.kind == "F":
            return i
    raise InvalidGenotype(f"{format_genotype(genotype)}: has no F()")


def add_layer(genotype: Sequence[Layer], conv: Layer, pool: Layer, *, position: Optional[int] = None) -> Genotype:
    """Insert a convolution followed by a pooling (default: just before ``F()``)."""
    if conv.kind != "C" or pool.kind != "P":
        raise ValueError(f"add_layer needs a C and a P layer, got {conv} and {pool}")
    pos = _flatten_index(genotype) if position is None else position
    _check_feature_position(genotype, pos)
    g = list(genotype)
    return tuple(g[:pos] + [conv, pool] + g[pos:])


def add_block(genotype: Sequence[Layer], block: Layer, *, position: Optional[int] = None) -> Genotype:
    """Insert an IB or SEIB block (default: right after the last block, else before ``F()``)."""
    if block.kind not in BLOCKS:
        raise ValueError(f"add_block needs an IB or SEIB layer, got {block}")
    if position is None:
        blocks = [i for i, layer in enumerate(genotype) if layer.is_block]
        position = blocks[-1] + 1 if blocks else _flatten_index(genotype)
    _check_feature_position(genotype, position)
    g = list(genotype)
    return tuple(g[:position] + [block] + g[position:])


def widen(genotype: Sequence[Layer], u: int, n: int) -> Genotype:
    """Add ``n`` filters to layer ``u``.

    For an Inception block the four convolutions whose outputs are concatenated
    (1x1, 3x3, 5x5, pool projection) grow by ``n`` and the reductions stay, so
    ``IB(32,64,128,16,32,32)`` widened by 32 is ``IB(64,64,160,16,64,64)``.
    """
    if not 0 <= u < len(genotype):
        raise ValueError(f"layer index u={u} is outside 0..{len(genotype) - 1}")
    if n < 1:
        raise ValueError(f"n={n} must be a positive number of filters")
    layer = genotype[u]
    if layer.kind == "C":
        new = Layer("C", (layer.args[0] + n, layer.args[1]))
    elif layer.is_block:
        a, b, c, d, e, f = layer.args
        new = Layer(layer.kind, (a + n, b, c + n, d, e + n, f + n))
    elif layer.kind == "FC" and u != len(genotype) - 1:
        new = Layer("FC", (layer.args[0] + n,))
    else:
        raise ValueError(f"layer {u} {layer} has no filters to widen")
    g = list(genotype)
    g[u] = new
    return tuple(g)


def concat(genotype: Sequence[Layer], u: int) -> Genotype:
    """Concatenate the outputs of layers ``u`` and ``u - 1`` (a ``Concat()`` after ``u``)."""
    if not 1 <= u < len(genotype):
        raise ValueError(f"layer index u={u} is outside 1..{len(genotype) - 1}")
    g = list(genotype)
    return tuple(g[: u + 1] + [Concat()] + g[u + 1:])


def _check_feature_position(genotype: Sequence[Layer], pos: int) -> None:
    if not 1 <= pos <= _flatten_index(genotype):
        raise ValueError(f"position {pos} is not between the first layer and F()")


def _widenable(genotype: Sequence[Layer]) -> list[int]:
    last = len(genotype) - 1
    return [i for i, layer in enumerate(genotype) if layer.kind == "C" or layer.is_block or (layer.kind == "FC" and i != last)]


def _random_transformation(genotype: Genotype, rng: np.random.Generator, block: str) -> Child:
    kind = str(rng.choice(["add_layer", "add_block", "widen", "concat"]))
    flat = _flatten_index(genotype)
    if kind == "add_layer":
        conv = C(int(rng.choice(LAYER_FILTERS)), int(rng.choice(LAYER_KERNELS)))
        pool = P(*LAYER_POOLS[int(rng.integers(len(LAYER_POOLS)))])
        pos = int(rng.integers(1, flat + 1))
        return Child(add_layer(genotype, conv, pool, position=pos), f"add_layer({conv},{pool},{pos})")
    if kind == "add_block":
        new = Layer(block, DEFAULT_BLOCK_WIDTHS)
        pos = int(rng.integers(1, flat + 1))
        return Child(add_block(genotype, new, position=pos), f"add_block({block},{pos})")
    if kind == "widen":
        u = int(rng.choice(_widenable(genotype)))
        n = int(rng.choice(WIDEN_BY))
        return Child(widen(genotype, u, n), f"widen({u},{n})")
    u = int(rng.integers(1, flat))
    return Child(concat(genotype, u), f"concat({u})")


def repair(genotype: Genotype, input_shape: tuple[int, int, int]) -> Optional[Genotype]:
    """Shrink kernels and poolings from the end until the network fits, else None.

    Collapsing children come from stacking unpadded convolutions and stride-2
    poolings on a small input; turning the offending ones into 1x1 keeps the
    transformation's intent (a new layer, a new block) at the smallest cost.
    """
    g = list(genotype)
    for i in range(len(g) - 1, -1, -1):
        try:
            validate(g, input_shape)
            return tuple(g)
        except InvalidGenotype:
            pass
        if g[i].kind == "C" and g[i].args[1] > 1:
            g[i] = C(g[i].args[0], 1)
        elif g[i].kind == "P" and g[i].args != (1, 1):
            g[i] = P(1, 1)
    try:
        validate(g, input_shape)
        return tuple(g)
    except InvalidGenotype:
        return None


def random_child(
    genotype: Genotype,
    rng: np.random.Generator,
    *,
    block: str,
    input_shape: tuple[int, int, int],
    max_params: Optional[int] = None,
    exclude: frozenset = frozenset(),
    max_tries: int = 50,
) -> Child:
    """One valid child by a random transformation; collapsing children are repaired or redrawn.

    ``exclude`` holds genotype strings already in the search (parents,
    siblings), which are redrawn so that no architecture is trained twice.

    Raises
    ------
    InvalidGenotype
        When ``max_tries`` draws gave nothing valid and new.
    """
    for _ in range(max_tries):
        child = _random_transformation(genotype, rng, block)
        g = child.genotype
        try:
            validate(g, input_shape)
        except InvalidGenotype as exc:
            fixed = repair(g, input_shape)
            if fixed is None:
                log.info("rejected child %s: %s", child.transformation, exc)
                continue
            log.info("repaired child %s: %s -> %s", child.transformation, exc, format_genotype(fixed))
            child = Child(fixed, child.transformation + "+repair")
            g = fixed
        if format_genotype(g) in exclude:
            continue
        if max_params is not None and count_parameters(g, input_shape) > max_params:
            log.info("rejected child %s: more than %d parameters", child.transformation, max_params)
            continue
        return child
    raise InvalidGenotype(f"no valid new child of {format_genotype(genotype)} in {max_tries} draws")
