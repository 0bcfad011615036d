"""Shapes, parameter/FLOP counts and the torch network of a genotype.

The reading that reproduces the paper's Table III: convolutions without
padding, ``P(a,b)`` a max pooling of size ``b`` and stride ``a`` (so ``P(1,1)``
keeps the size), Inception branches with "same" padding and a true 5x5
kernel, ReLU after every convolution, biases everywhere, and no activation
after the last ``FC`` (its softmax is in the loss).

Where the paper's printed figures disagree with this reading:

- Table III's M2 (``Widen(M, 3, 32)``) is printed as ``IB(64,64,160,16,64,64)``
  with 2,104,858 parameters. That genotype has 2,511,674 here, and no +32
  widening of any subset of the block's six widths gives 2,104,858, so
  :func:`~medvision_app.search.transforms.widen` follows the printed
  genotype (the four output convolutions grow, the reductions stay).
- Table IV's returned models count 594,426 (BbNAS, printed 572,474) and
  2,111,200 (SE-BbNAS, printed 2,342,282, with SE reduction 16) here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import nn

from medvision_app.networks.blocks import InceptionBlock, SEInceptionBlock
from medvision_app.networks.genotype import Layer, format_genotype


class InvalidGenotype(ValueError):
    """The genotype cannot be built for the given input (sizes collapse, Concat mismatch...)."""


@dataclass(frozen=True)
class Shape:
    """A layer output: ``(channels, height, width)``, or ``flat`` features after ``F()``."""

    channels: int
    height: int = 0
    width: int = 0
    flat: bool = False

    @property
    def numel(self) -> int:
        return self.channels if self.flat else self.channels * self.height * self.width


def _inception_out(args: Sequence[int]) -> int:
    a, _b, c, _d, e, f = args
    return a + c + e + f


def _conv_cost(cin: int, cout: int, k: int, out_hw: int) -> tuple[int, int]:
    params = cin * cout * k * k + cout
    return params, cin * cout * k * k * out_hw


def _inception_cost(cin: int, args: Sequence[int], hw: int, se: bool) -> tuple[int, int]:
    a, b, c, d, e, f = args
    parts = [(cin, a, 1), (cin, b, 1), (b, c, 3), (cin, d, 1), (d, e, 5), (cin, f, 1)]
    params = flops = 0
    for ci, co, k in parts:
        p, fl = _conv_cost(ci, co, k, hw)
        params += p
        flops += fl
    if se:
        cout = _inception_out(args)
        hidden = _se_hidden(cout)
        params += cout * hidden + hidden + hidden * cout + cout
        flops += 2 * cout * hidden + cout * hw
    return params, flops


def _se_hidden(channels: int, reduction: int = 16) -> int:
    return max(1, channels // reduction)


def analyse(genotype: Sequence[Layer], input_shape: tuple[int, int, int]) -> list[tuple[Shape, int, int]]:
    """Per layer: its output :class:`Shape`, parameters and FLOPs (multiply-accumulates).

    Raises
    ------
    InvalidGenotype
        Naming the layer where the network stops making sense for ``input_shape``
        (channels, height, width).
    """
    shape = Shape(*input_shape)
    outputs: list[Shape] = []
    rows = []
    n = len(genotype)
    for i, layer in enumerate(genotype):
        where = f"layer {i} {layer} of {format_genotype(genotype)}"
        params = flops = 0
        if layer.kind in ("C", "P", "IB", "SEIB", "Concat") and shape.flat:
            raise InvalidGenotype(f"{where}: needs a feature map but follows F()")
        if layer.kind == "C":
            filters, k = layer.args
            h, w = shape.height - k + 1, shape.width - k + 1
            if h < 1 or w < 1:
                raise InvalidGenotype(f"{where}: a {k}x{k} kernel does not fit a {shape.height}x{shape.width} map")
            params, flops = _conv_cost(shape.channels, filters, k, h * w)
            shape = Shape(filters, h, w)
        elif layer.kind == "P":
            step, size = layer.args
            if size > shape.height or size > shape.width:
                raise InvalidGenotype(f"{where}: a {size}x{size} pooling does not fit a {shape.height}x{shape.width} map")
            shape = Shape(shape.channels, (shape.height - size) // step + 1, (shape.width - size) // step + 1)
        elif layer.kind in ("IB", "SEIB"):
            params, flops = _inception_cost(shape.channels, layer.args, shape.height * shape.width, layer.kind == "SEIB")
            shape = Shape(_inception_out(layer.args), shape.height, shape.width)
        elif layer.kind == "Concat":
            if len(outputs) < 2:
                raise InvalidGenotype(f"{where}: needs two preceding layers")
            x, y = outputs[-1], outputs[-2]
            if y.flat or (x.height, x.width) != (y.height, y.width):
                raise InvalidGenotype(
                    f"{where}: cannot concatenate {y.height}x{y.width} and {x.height}x{x.width} maps"
                )
            shape = Shape(x.channels + y.channels, x.height, x.width)
        elif layer.kind == "F":
            shape = Shape(shape.numel, flat=True)
        elif layer.kind == "FC":
            if not shape.flat:
                raise InvalidGenotype(f"{where}: FC needs F() before it")
            params = shape.channels * layer.args[0] + layer.args[0]
            flops = shape.channels * layer.args[0]
            shape = Shape(layer.args[0], flat=True)
        outputs.append(shape)
        rows.append((shape, params, flops))
    if n == 0 or genotype[-1].kind != "FC":
        raise InvalidGenotype(f"{format_genotype(genotype)}: must end with FC(classes)")
    return rows


def validate(genotype: Sequence[Layer], input_shape: tuple[int, int, int]) -> None:
    """Raise :class:`InvalidGenotype` unless the genotype builds for ``input_shape``."""
    analyse(genotype, input_shape)


def count_parameters(genotype: Sequence[Layer], input_shape: tuple[int, int, int]) -> int:
    return sum(p for _s, p, _f in analyse(genotype, input_shape))


def count_flops(genotype: Sequence[Layer], input_shape: tuple[int, int, int]) -> int:
    """Multiply-accumulates of one forward pass for one image."""
    return sum(f for _s, _p, f in analyse(genotype, input_shape))


class GenotypeNet(nn.Module):
    """The network a genotype describes; ``forward`` returns class logits.

    With ``upto`` only the layers before that index are built: the feature
    extractor of a registered ``"genotype"`` model, cut before ``F()``.
    """

    def __init__(self, genotype: Sequence[Layer], input_shape: tuple[int, int, int], upto: Optional[int] = None) -> None:
        super().__init__()
        rows = analyse(genotype, input_shape)
        stop = len(genotype) if upto is None else upto
        self.genotype = tuple(genotype)
        self.input_shape = tuple(input_shape)
        self.kinds = [layer.kind for layer in genotype[:stop]]
        mods = []
        shape = Shape(*input_shape)
        for i, layer in enumerate(genotype[:stop]):
            last_fc = i == len(genotype) - 1
            if layer.kind == "C":
                mods.append(nn.Sequential(nn.Conv2d(shape.channels, layer.args[0], layer.args[1]), nn.ReLU(inplace=True)))
            elif layer.kind == "P":
                step, size = layer.args
                mods.append(nn.Identity() if size == 1 and step == 1 else nn.MaxPool2d(size, stride=step))
            elif layer.kind in ("IB", "SEIB"):
                block = SEInceptionBlock if layer.kind == "SEIB" else InceptionBlock
                mods.append(block(shape.channels, *layer.args))
            elif layer.kind == "F":
                mods.append(nn.Flatten())
            elif layer.kind == "FC":
                linear = nn.Linear(shape.channels, layer.args[0])
                mods.append(linear if last_fc else nn.Sequential(linear, nn.ReLU(inplace=True)))
            else:
                mods.append(nn.Identity())
            shape = rows[i][0]
        self.layers = nn.ModuleList(mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        for kind, module in zip(self.kinds, self.layers, strict=False):
            if kind == "Concat":
                x = torch.cat([outputs[-2], outputs[-1]], dim=1)
            else:
                x = module(x)
            outputs.append(x)
        return x


def build(genotype: Sequence[Layer], input_shape: tuple[int, int, int]) -> GenotypeNet:
    """Build the network for ``input_shape`` (channels, height, width)."""
    return GenotypeNet(genotype, input_shape)
