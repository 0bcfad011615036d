"""Children that inherit: a child starts from its trained parent's weights, computing the same function when it can.

BbNAS trains every child from scratch for up to ten epochs. Here a child made
by a transformation copies its parent's weights wherever the layers match and
initialises what is new so that, before training, it computes its parent's
function (Net2Net, Chen et al. 2016; network morphism, Wei et al. 2016):

- deepening: a new ``C(f,1) P(1,1)`` is an identity convolution (the feature
  maps it reads are never negative, so its ReLU changes nothing); a new
  Inception block routes its input through its 1x1, 3x3 and 5x5 branches with
  identity kernels (a new SE block's gate starts at exactly 0.5, which the
  layers after it compensate); its other outputs are new channels;
- widening: the new filters of a layer copy randomly chosen old ones and the
  next layer splits the old outgoing weight between the copies in random
  shares that sum to one (the split breaks the copies' symmetry);
- a new ``Concat()`` adds the earlier layer's maps as new channels;
- new channels are read with zero weights by the layers after them, which
  therefore learn to use them.

A ``C(f,k)`` with ``k > 1`` or a stride-2 pooling changes the map size, so no
initialisation preserves the function; the new convolution then starts as a
centred identity kernel, the classifier's weights are cropped to the new map,
and :attr:`Inheritance.preserved` is False.

Each child tensor is described by a :class:`_Route`: channel ``j`` carries the
parent's channel ``src[j]`` (``-1``: a new channel), and a layer reading it
multiplies the parent's weight by ``coef[j]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from medvision_app.networks.builder import GenotypeNet, analyse, build
from medvision_app.networks.genotype import Layer, parse


@dataclass(frozen=True)
class Inheritance:
    """What a child took from its parent: the share of its parameters, and whether the function is kept."""

    preserved: bool
    inherited_fraction: float


@dataclass
class _Route:
    src: np.ndarray  # int64, parent channel (or flat feature) per child channel, -1 for new ones
    coef: np.ndarray  # float64, the factor on the parent's outgoing weight
    hw: Optional[tuple[int, int]]  # spatial size, None after F()
    crop: Optional[tuple[int, int, int, int]] = None  # after F(): parent H, W and child H, W when they differ

    @staticmethod
    def identity(n: int, hw) -> "_Route":
        return _Route(np.arange(n), np.ones(n), hw)


def alignment(parent: Sequence[Layer], child: Sequence[Layer], transformation: str) -> Optional[list[Optional[int]]]:
    """Child layer index -> the parent's layer it continues (None: new); None when it cannot be told."""
    name = transformation.split("(", 1)[0]
    numbers = [int(v) for v in re.findall(r"\d+", transformation.split("+", 1)[0])]
    if name == "widen":
        pos, count = 0, 0
    elif name == "add_layer" and numbers:
        pos, count = numbers[-1], 2
    elif name == "add_block" and numbers:
        pos, count = numbers[-1], 1
    elif name == "concat" and numbers:
        pos, count = numbers[0] + 1, 1
    else:
        return None
    if len(child) != len(parent) + count:
        return None
    align: list[Optional[int]] = list(range(pos)) + [None] * count + list(range(pos, len(parent)))
    if any(j is not None and child[i].kind != parent[j].kind for i, j in enumerate(align)):
        return None
    return align


def _split(n_parent: int, n_child: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Net2Net widening: the first ``n_parent`` outputs are the old ones, the rest copy random old ones.

    Returns the source of each child output and the share of the old outgoing
    weight each copy takes (random, summing to one per old output).
    """
    extra = rng.integers(0, n_parent, size=max(0, n_child - n_parent)) if n_parent else np.zeros(0, np.int64)
    src = np.concatenate([np.arange(min(n_parent, n_child)), extra]).astype(np.int64)
    coef = np.ones(len(src))
    for p in np.unique(extra):
        copies = np.flatnonzero(src == p)
        shares = rng.uniform(0.5, 1.5, size=len(copies))
        coef[copies] = shares / shares.sum()
    return src, coef


def _transfer(child: nn.Module, parent: nn.Module, route: _Route, out_src: np.ndarray,
              crop: Optional[tuple[int, int, int, int]] = None) -> None:
    """Set ``child``'s weight (conv or linear) from ``parent``'s through the input route and output sources.

    Output rows whose source is -1 keep their fresh initialisation.
    ``crop``: for a linear layer after F(), (parent H, W, child H, W) when the map size changed.
    """
    wp = parent.weight.detach().double()
    if crop is not None:
        hp, wp_, hc, wc = crop
        channels = wp.shape[1] // (hp * wp_)
        grid = wp.reshape(wp.shape[0], channels, hp, wp_)
        out = torch.zeros(wp.shape[0], channels, hc, wc, dtype=grid.dtype)
        # centre crop (or centred zero padding) of the classifier's spatial weights
        sh, sw = (hp - hc) // 2, (wp_ - wc) // 2
        for y in range(hc):
            for x in range(wc):
                if 0 <= y + sh < hp and 0 <= x + sw < wp_:
                    out[:, :, y, x] = grid[:, :, y + sh, x + sw]
        wp = out.reshape(wp.shape[0], -1)
    w = child.weight.detach().double().clone()
    src = torch.as_tensor(route.src)
    coef = torch.as_tensor(route.coef, dtype=torch.float64)
    # a source outside the parent's layer (a Concat that now joins other layers) is read as new
    mapped = (src >= 0) & (src < wp.shape[1])
    shape = (1, -1) + (1,) * (wp.ndim - 2)
    new_in = torch.zeros((wp.shape[0], len(src)) + tuple(wp.shape[2:]), dtype=torch.float64)
    new_in[:, mapped] = wp[:, src[mapped]] * coef[mapped].reshape(shape)
    rows = torch.as_tensor(out_src)
    keep = (rows >= 0) & (rows < wp.shape[0])
    w[keep] = new_in[rows[keep]]
    with torch.no_grad():
        child.weight.copy_(w.to(child.weight.dtype))
        if child.bias is not None and parent.bias is not None:
            b = child.bias.detach().clone()
            b[keep] = parent.bias.detach()[rows[keep]].to(b.dtype)
            child.bias.copy_(b)


def _conv_of(module: nn.Module) -> nn.Conv2d:
    return module[0] if isinstance(module, nn.Sequential) else module


class _Morph:
    def __init__(self, parent: GenotypeNet, child: GenotypeNet, align: list, rng: np.random.Generator) -> None:
        self.parent, self.child, self.align, self.rng = parent, child, align, rng
        shape = parent.input_shape
        self.p_shapes = [s for s, _p, _f in analyse(parent.genotype, shape)]
        self.c_shapes = [s for s, _p, _f in analyse(child.genotype, shape)]
        self.exact = True

    def _hw(self, shapes, i):
        s = shapes[i]
        return None if s.flat else (s.height, s.width)

    def run(self) -> bool:
        c, h, w = self.parent.input_shape
        routes: list[_Route] = []
        route = _Route.identity(c, (h, w))
        for i, layer in enumerate(self.child.genotype):
            j = self.align[i]
            if j is None:
                route = self._new(i, layer, route, routes)
            else:
                route = self._matched(i, j, layer, route, routes)
            if j is not None and self._hw(self.c_shapes, i) != self._hw(self.p_shapes, j):
                self.exact = False
            routes.append(route)
        return self.exact

    # -- layers carried over from the parent -----------------------------------
    def _matched(self, i: int, j: int, layer: Layer, route: _Route, routes: list[_Route]) -> _Route:
        cm, pm = self.child.layers[i], self.parent.layers[j]
        hw = self._hw(self.c_shapes, i)
        kind = layer.kind
        if kind == "C":
            cc, pc = _conv_of(cm), _conv_of(pm)
            if cc.kernel_size != pc.kernel_size:  # a repaired child: nothing to copy, nothing to route
                self.exact = False
                return _Route(np.full(cc.out_channels, -1), np.ones(cc.out_channels), hw)
            src, coef = _split(pc.out_channels, cc.out_channels, self.rng)
            _transfer(cc, pc, route, src)
            return _Route(src, coef, hw)
        if kind in ("IB", "SEIB"):
            return self._inception(cm, pm, route, hw)
        if kind == "Concat":
            if self.align[i - 1] != j - 1 or self.align[i - 2] != j - 2:
                self.exact = False  # it now joins other layers than in the parent
            offset = self.p_shapes[j - 2].channels
            a, b = routes[-2], routes[-1]
            src = np.concatenate([a.src, np.where(b.src >= 0, b.src + offset, -1)])
            return _Route(src, np.concatenate([a.coef, b.coef]), hw)
        if kind == "F":
            return self._flatten(route, self.p_shapes[j - 1] if j else None)
        if kind == "FC":
            cl, pl = _conv_of(cm), _conv_of(pm)
            src, coef = _split(pl.out_features, cl.out_features, self.rng)
            _transfer(cl, pl, route, src, crop=route.crop)
            return _Route(src, coef, None)
        return _Route(route.src, route.coef, hw)  # P: one channel at a time

    def _flatten(self, route: _Route, parent_in) -> _Route:
        hc, wc = route.hw
        hp, wp = parent_in.height, parent_in.width
        n = hc * wc
        # feature (channel c, position s) is c * H * W + s; with a changed map size the
        # classifier's spatial weights are first cropped to the child's (see _transfer)
        channel = np.repeat(route.src, n)
        src = np.where(channel >= 0, channel * n + np.tile(np.arange(n), len(route.src)), -1)
        crop = None
        if (hc, wc) != (hp, wp):
            self.exact = False
            crop = (hp, wp, hc, wc)
        return _Route(src, np.repeat(route.coef, n), None, crop)

    def _inception(self, cm: nn.Module, pm: nn.Module, route: _Route, hw) -> _Route:
        se_c = getattr(cm, "se", None)
        ci, pi = getattr(cm, "inception", cm), getattr(pm, "inception", pm)
        parts = []
        a_src, a_coef = _split(_conv_of(pi.branch1).out_channels, _conv_of(ci.branch1).out_channels, self.rng)
        _transfer(_conv_of(ci.branch1), _conv_of(pi.branch1), route, a_src)
        parts.append((a_src, a_coef, _conv_of(pi.branch1).out_channels))
        for branch in ("branch3", "branch5"):
            cb, pb = getattr(ci, branch), getattr(pi, branch)
            r_src, r_coef = _split(pb[0][0].out_channels, cb[0][0].out_channels, self.rng)
            _transfer(cb[0][0], pb[0][0], route, r_src)
            o_src, o_coef = _split(pb[1][0].out_channels, cb[1][0].out_channels, self.rng)
            _transfer(cb[1][0], pb[1][0], _Route(r_src, r_coef, hw), o_src)
            parts.append((o_src, o_coef, pb[1][0].out_channels))
        f_src, f_coef = _split(pi.branch_pool[1][0].out_channels, ci.branch_pool[1][0].out_channels, self.rng)
        _transfer(ci.branch_pool[1][0], pi.branch_pool[1][0], route, f_src)
        parts.append((f_src, f_coef, pi.branch_pool[1][0].out_channels))
        src, coef, offset = [], [], 0
        for s, k, width in parts:
            src.append(s + offset)
            coef.append(k)
            offset += width
        out = _Route(np.concatenate(src), np.concatenate(coef), hw)
        if se_c is not None:
            se_p = pm.se
            hidden_src = np.concatenate([np.arange(se_p.fc1.out_features),
                                         np.full(se_c.fc1.out_features - se_p.fc1.out_features, -1)])
            _transfer(se_c.fc1, se_p.fc1, out, hidden_src)
            _transfer(se_c.fc2, se_p.fc2, _Route(hidden_src, np.ones(len(hidden_src)), None), out.src)
        return out

    # -- layers the transformation added ---------------------------------------
    def _new(self, i: int, layer: Layer, route: _Route, routes: list[_Route]) -> _Route:
        cm = self.child.layers[i]
        hw = self._hw(self.c_shapes, i)
        if layer.kind == "C":
            return self._identity_conv(_conv_of(cm), route, hw)
        if layer.kind == "P":
            if layer.args != (1, 1):
                self.exact = False
            return _Route(route.src, route.coef, hw)
        if layer.kind == "Concat":
            a, b = routes[-2], routes[-1]
            return _Route(np.concatenate([np.full(len(a.src), -1), b.src]), np.concatenate([np.ones(len(a.src)), b.coef]), hw)
        if layer.kind in ("IB", "SEIB"):
            return self._identity_block(cm, route, hw)
        self.exact = False
        return _Route(route.src, route.coef, hw)

    def _identity_conv(self, conv: nn.Conv2d, route: _Route, hw, carried: Optional[np.ndarray] = None) -> _Route:
        """Output ``t`` copies input channel ``carried[t]`` through the kernel's centre tap; other outputs are new."""
        carried = np.flatnonzero(route.src >= 0) if carried is None else carried
        n = min(len(carried), conv.out_channels)
        if n < len(carried) or conv.padding[0] != conv.kernel_size[0] // 2:
            self.exact = False  # channels that do not fit are dropped; an unpadded k x k kernel shrinks the map
        k = conv.kernel_size[0] // 2
        with torch.no_grad():
            conv.weight[:n] = 0.0
            conv.weight[torch.arange(n), torch.as_tensor(carried[:n]), k, k] = 1.0
            conv.bias[:n] = 0.0
        src = np.full(conv.out_channels, -1)
        coef = np.ones(conv.out_channels)
        src[:n] = route.src[carried[:n]]
        coef[:n] = route.coef[carried[:n]]
        return _Route(src, coef, hw)

    def _identity_block(self, block: nn.Module, route: _Route, hw) -> _Route:
        inc = getattr(block, "inception", block)
        carried = np.flatnonzero(route.src >= 0)
        first = _conv_of(inc.branch1)
        parts = [self._identity_conv(first, route, hw, carried[:first.out_channels])]
        used = min(len(carried), first.out_channels)
        for branch in (inc.branch3, inc.branch5):
            reduce, conv = branch[0][0], branch[1][0]
            take = carried[used:used + min(reduce.out_channels, conv.out_channels)]
            inner = self._identity_conv(reduce, route, hw, take)
            parts.append(self._identity_conv(conv, inner, hw, np.arange(len(take))))
            used += len(take)
        pool = inc.branch_pool[1][0]
        parts.append(_Route(np.full(pool.out_channels, -1), np.ones(pool.out_channels), hw))
        if used < len(carried):
            self.exact = False  # more channels than the identity branches can carry
        out = _Route(np.concatenate([p.src for p in parts]), np.concatenate([p.coef for p in parts]), hw)
        se = getattr(block, "se", None)
        if se is not None:
            # gate sigmoid(0) = 0.5 on every channel for every input; the next layer doubles its weights
            with torch.no_grad():
                se.fc2.weight.zero_()
                se.fc2.bias.zero_()
            out.coef = out.coef * 2.0
        return out


def inherit(parent_genotype: str, parent_state: dict, child_genotype: str, transformation: str,
            input_shape: tuple[int, int, int], *, seed: int = 0) -> tuple[GenotypeNet, Inheritance]:
    """Build the child and initialise it from the parent's trained ``parent_state``.

    Returns the child network and what it inherited. A child whose
    transformation cannot be read (``"initial"``, an unknown name) is built
    fresh, with ``inherited_fraction`` 0.
    """
    torch.manual_seed(seed)
    child = build(parse(child_genotype), input_shape)
    parent_g = parse(parent_genotype)
    align = alignment(parent_g, child.genotype, transformation)
    if align is None:
        return child, Inheritance(False, 0.0)
    parent = build(parent_g, input_shape)
    parent.load_state_dict(parent_state)
    try:
        preserved = _Morph(parent, child, align, np.random.default_rng(seed)).run()
    except (IndexError, RuntimeError, ValueError):
        # a layout this module does not follow: the child trains from scratch rather than not at all
        torch.manual_seed(seed)
        return build(parse(child_genotype), input_shape), Inheritance(False, 0.0)
    inherited = sum(p.numel() for i, j in enumerate(align) if j is not None for p in child.layers[i].parameters())
    total = sum(p.numel() for p in child.parameters())
    return child, Inheritance(bool(preserved), float(inherited) / max(1, total))
