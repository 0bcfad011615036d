"""ENAS micro search space (Pham et al. 2018): cells, the shared-weight supernet, fixed networks.

A cell has two inputs (the two previous cells' outputs) and ``nodes``
computed nodes. Node ``i`` picks two earlier states and one operation for
each, and sums the two results. The cell's output is a 1x1 convolution of
the concatenated nodes that no other node used. An architecture (``Arc``) is
one such list for the normal cell and one for the reduction cell; a
reduction cell first halves both inputs with a factorised reduction and
doubles the width, as the authors' released code does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

OPS = ("sep3", "sep5", "avg3", "max3", "identity")

Node = tuple[int, int, int, int]  # x index, x op, y index, y op


@dataclass(frozen=True)
class Arc:
    normal: tuple[Node, ...]
    reduce: tuple[Node, ...]

    def __str__(self) -> str:
        def cell(nodes):
            return " ".join(f"({x},{OPS[ox]},{y},{OPS[oy]})" for x, ox, y, oy in nodes)

        return f"N[{cell(self.normal)}] R[{cell(self.reduce)}]"

    def to_json(self) -> dict:
        return {"normal": [list(n) for n in self.normal], "reduce": [list(n) for n in self.reduce]}

    @classmethod
    def from_json(cls, data: dict) -> "Arc":
        return cls(tuple(tuple(n) for n in data["normal"]), tuple(tuple(n) for n in data["reduce"]))

    @classmethod
    def parse(cls, text: str) -> "Arc":
        """Read the printed form ``N[(0,sep3,1,avg3) ...] R[...]`` back.

        Raises
        ------
        ValueError
            Naming what does not read: an unknown operation, a node reading
            a later node, or a missing cell.
        """
        match = _ARC.fullmatch(text.strip())
        if not match:
            raise ValueError(f"not an ENAS architecture (expected N[(x,op,y,op) ...] R[...]): {text!r}")
        cells = []
        for body in match.groups():
            nodes = []
            for i, (x, ox, y, oy) in enumerate(_NODE.findall(body)):
                for op in (ox, oy):
                    if op not in OPS:
                        raise ValueError(f"unknown operation {op!r} in {text!r}; expected one of {', '.join(OPS)}")
                if int(x) > i + 1 or int(y) > i + 1:
                    raise ValueError(f"node {i + 2} reads a later node in {text!r}")
                nodes.append((int(x), OPS.index(ox), int(y), OPS.index(oy)))
            if not nodes or len(nodes) != body.count("("):
                raise ValueError(f"cannot read the cell {body!r} in {text!r}")
            cells.append(tuple(nodes))
        if len(cells[0]) != len(cells[1]):
            raise ValueError(f"normal and reduction cells differ in node count in {text!r}")
        return cls(cells[0], cells[1])


_ARC = re.compile(r"N\[(.*?)\]\s*R\[(.*?)\]")
_NODE = re.compile(r"\(\s*(\d+)\s*,\s*(\w+)\s*,\s*(\d+)\s*,\s*(\w+)\s*\)")


def unused_nodes(nodes: Sequence[Node]) -> list[int]:
    """Positions (0-based among computed nodes) whose output no later node reads."""
    used = {x for x, _, y, _ in nodes} | {y for x, _, y, _ in nodes}
    return [i for i in range(len(nodes)) if i + 2 not in used]


class SepConv(nn.Module):
    """ReLU, depthwise k x k, pointwise 1x1, batch norm: ENAS's separable convolution."""

    def __init__(self, c: int, k: int, affine: bool) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False), nn.Conv2d(c, c, k, padding=k // 2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False), _bn(c, affine),
        )

    def forward(self, x):
        return self.op(x)


def _bn(c: int, affine: bool) -> nn.BatchNorm2d:
    # The supernet (affine=False) normalises with each batch's own statistics:
    # running averages mixed over many sampled architectures describe none of them.
    return nn.BatchNorm2d(c, affine=affine, track_running_stats=affine)


def make_op(index: int, c: int, affine: bool) -> nn.Module:
    name = OPS[index]
    if name == "sep3":
        return SepConv(c, 3, affine)
    if name == "sep5":
        return SepConv(c, 5, affine)
    if name == "avg3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name == "max3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    return nn.Identity()


class ReLUConvBN(nn.Module):
    def __init__(self, cin: int, cout: int, affine: bool) -> None:
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(cin, cout, 1, bias=False), _bn(cout, affine))

    def forward(self, x):
        return self.op(x)


class FactorizedReduce(nn.Module):
    """Halve H and W with two offset stride-2 1x1 convolutions, concatenated."""

    def __init__(self, cin: int, cout: int, affine: bool) -> None:
        super().__init__()
        if cout % 2:
            raise ValueError(f"FactorizedReduce needs an even output width, got {cout}")
        self.a = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.b = nn.Conv2d(cin, cout // 2, 1, stride=2, bias=False)
        self.bn = _bn(cout, affine)

    def forward(self, x):
        x = F.relu(x)
        y = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]  # the offset path sees the other pixels
        return self.bn(torch.cat([self.a(x), self.b(y)], dim=1))


class Cell(nn.Module):
    """A normal or reduction cell; ``nodes`` fixed makes it a plain cell, ``None`` a supernet cell."""

    def __init__(self, c_pp: int, c_p: int, c: int, *, reduction: bool, pp_smaller: bool, n_nodes: int,
                 nodes: Optional[Sequence[Node]] = None) -> None:
        super().__init__()
        affine = nodes is not None
        self.c, self.n_nodes, self.fixed = c, n_nodes, nodes
        self.pre0 = FactorizedReduce(c_pp, c, affine) if (reduction or pp_smaller) else ReLUConvBN(c_pp, c, affine)
        self.pre1 = FactorizedReduce(c_p, c, affine) if reduction else ReLUConvBN(c_p, c, affine)
        if nodes is None:
            # one weight set per (node, slot, op), shared by every architecture that picks it
            self.ops = nn.ModuleList(
                nn.ModuleList(nn.ModuleList(make_op(o, c, affine) for o in range(len(OPS))) for _ in range(2))
                for _ in range(n_nodes)
            )
            out_in = n_nodes * c
        else:
            self.ops = nn.ModuleList(
                nn.ModuleList([make_op(ox, c, affine), make_op(oy, c, affine)]) for _x, ox, _y, oy in nodes
            )
            out_in = len(unused_nodes(nodes)) * c
        self.out_weight = nn.Parameter(torch.empty(c, out_in, 1, 1))
        nn.init.kaiming_normal_(self.out_weight)
        self.out_bn = _bn(c, affine)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, nodes: Optional[Sequence[Node]] = None) -> torch.Tensor:
        nodes = self.fixed if self.fixed is not None else nodes
        states = [self.pre0(s0), self.pre1(s1)]  # each N x c x H x W
        for i, (x, ox, y, oy) in enumerate(nodes):
            if self.fixed is not None:
                a, b = self.ops[i][0], self.ops[i][1]
            else:
                a, b = self.ops[i][0][ox], self.ops[i][1][oy]
            states.append(a(states[x]) + b(states[y]))
        free = unused_nodes(nodes)
        out = torch.cat([states[2 + i] for i in free], dim=1)  # N x (len(free) * c) x H x W
        w = self.out_weight
        if self.fixed is None:
            w = w.view(self.c, self.n_nodes, self.c, 1, 1)[:, free].reshape(self.c, -1, 1, 1)
        return self.out_bn(F.conv2d(F.relu(out), w))


class CellNetwork(nn.Module):
    """Stem, a sequence of ``"N"``/``"R"`` cells, global pooling, classifier.

    With ``arc`` the cells are fixed (a final network); without, it is the
    supernet and ``forward`` takes the architecture to run. ``n_classes = 0``
    builds no classifier: :meth:`forward_features` is then the whole network
    (the feature extractor of a registered ``"enas"`` model).
    """

    def __init__(self, layout: Sequence[str], in_channels: int, n_classes: int, channels: int, n_nodes: int = 5,
                 arc: Optional[Arc] = None, dropout: float = 0.0) -> None:
        super().__init__()
        if any(k not in ("N", "R") for k in layout):
            raise ValueError(f"layout must hold only 'N' and 'R', got {list(layout)}")
        if channels % 2:
            raise ValueError(f"channels={channels} must be even (reductions halve it into two paths)")
        self.layout = list(layout)
        self.arc = arc
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), _bn(channels, arc is not None))
        cells = []
        c_pp = c_p = c = channels
        reduced_prev = False
        for kind in layout:
            reduction = kind == "R"
            if reduction:
                c *= 2
            fixed = None if arc is None else (arc.reduce if reduction else arc.normal)
            cells.append(Cell(c_pp, c_p, c, reduction=reduction, pp_smaller=reduced_prev, n_nodes=n_nodes, nodes=fixed))
            reduced_prev = reduction
            c_pp, c_p = c_p, c
        self.cells = nn.ModuleList(cells)
        self.out_channels = c_p
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(c_p, n_classes) if n_classes else None

    def forward_features(self, x: torch.Tensor, arc: Optional[Arc] = None) -> torch.Tensor:
        """The last cell's output map after ReLU, N x out_channels x h x w."""
        arc = self.arc or arc
        s0 = s1 = self.stem(x)
        for kind, cell in zip(self.layout, self.cells, strict=False):
            s0, s1 = s1, cell(s0, s1, arc.reduce if kind == "R" else arc.normal)
        return F.relu(s1)

    def forward(self, x: torch.Tensor, arc: Optional[Arc] = None) -> torch.Tensor:
        out = F.adaptive_avg_pool2d(self.forward_features(x, arc), 1).flatten(1)  # N x C
        return self.classifier(self.dropout(out))


SHAPES = {
    "enas-7": ["N", "R", "N", "R", "N", "N", "N"],
    "enas-17": ["N"] * 5 + ["R"] + ["N"] * 5 + ["R"] + ["N"] * 5,
}


def supernet_layout(per_stage: int) -> list[str]:
    return ["N"] * per_stage + ["R"] + ["N"] * per_stage + ["R"] + ["N"] * per_stage
