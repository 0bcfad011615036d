"""Convolutional building blocks shared by P-NET, the backbones and the NAS.

Every block is a plain ``torch.nn.Module`` whose constructor takes channel
counts only, so a searched architecture is a list of constructor arguments
that can be saved and rebuilt.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["InceptionBlock", "SqueezeExcitation", "SEInceptionBlock", "DepthwiseResidualBlock"]


def _positive(**values: int) -> None:
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _conv_relu(in_ch: int, out_ch: int, kernel: int, batch_norm: bool) -> nn.Sequential:
    # "same" padding: every branch keeps H x W so the outputs can be concatenated.
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(out_ch))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class InceptionBlock(nn.Module):
    """GoogLeNet Inception block with dimension reduction, IB(a, b, c, d, e, f).

    Four parallel branches, concatenated along channels:
    1x1 conv (``c1`` = a); 1x1 reduce (``c3r`` = b) then 3x3 (``c3`` = c);
    1x1 reduce (``c5r`` = d) then a true 5x5 (``c5`` = e); 3x3 max-pool
    (stride 1) then a 1x1 projection (``pool_proj`` = f). Each convolution
    has a bias and is followed by ReLU; batch norm is off by default so that
    the parameter counts match the BbNAS paper's Table III exactly.

    Parameters
    ----------
    in_channels : int
        Channels of the input map.
    c1, c3r, c3, c5r, c5, pool_proj : int
        The six filter counts a..f.
    batch_norm : bool, keyword-only
        Insert batch norm after each convolution (its conv then has no bias).

    Notes
    -----
    ``out_channels`` is ``c1 + c3 + c5 + pool_proj``; IB(32,64,128,16,32,32)
    gives 224. Spatial size is preserved.
    """

    def __init__(
        self,
        in_channels: int,
        c1: int,
        c3r: int,
        c3: int,
        c5r: int,
        c5: int,
        pool_proj: int,
        *,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        _positive(in_channels=in_channels, c1=c1, c3r=c3r, c3=c3, c5r=c5r, c5=c5, pool_proj=pool_proj)
        self.in_channels = in_channels
        self.out_channels = c1 + c3 + c5 + pool_proj
        self.branch1 = _conv_relu(in_channels, c1, 1, batch_norm)
        self.branch3 = nn.Sequential(_conv_relu(in_channels, c3r, 1, batch_norm), _conv_relu(c3r, c3, 3, batch_norm))
        self.branch5 = nn.Sequential(_conv_relu(in_channels, c5r, 1, batch_norm), _conv_relu(c5r, c5, 5, batch_norm))
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), _conv_relu(in_channels, pool_proj, 1, batch_norm)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # N x in_channels x H x W -> N x (c1 + c3 + c5 + pool_proj) x H x W
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], dim=1)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-Excitation: rescale each channel by a learned gate in (0, 1).

    Global average pool, FC to ``channels // reduction`` (at least 1), ReLU,
    FC back to ``channels``, sigmoid, channel-wise multiplication.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        _positive(channels=channels, reduction=reduction)
        hidden = max(1, channels // reduction)
        self.channels = channels
        self.out_channels = channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(channels, hidden)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(hidden, channels)
        self.gate = nn.Sigmoid()

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel gate, N x C x 1 x 1, values in (0, 1)."""
        s = self.pool(x).flatten(1)  # N x C
        s = self.gate(self.fc2(self.relu(self.fc1(s))))
        return s[:, :, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale(x)


class SEInceptionBlock(nn.Module):
    """An :class:`InceptionBlock` followed by :class:`SqueezeExcitation` on its output."""

    def __init__(
        self,
        in_channels: int,
        c1: int,
        c3r: int,
        c3: int,
        c5r: int,
        c5: int,
        pool_proj: int,
        *,
        reduction: int = 16,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.inception = InceptionBlock(in_channels, c1, c3r, c3, c5r, c5, pool_proj, batch_norm=batch_norm)
        self.se = SqueezeExcitation(self.inception.out_channels, reduction)
        self.in_channels = in_channels
        self.out_channels = self.inception.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se(self.inception(x))


class DepthwiseResidualBlock(nn.Module):
    """MobileNet-like block: 1x1 expansion, 3x3 depthwise, 1x1 linear projection, residual.

    The hidden width is ``in_ch * expansion`` unless ``hidden`` is given.
    Expansion and depthwise convs
    are followed by batch norm and ReLU6; the projection by batch norm only
    (a linear bottleneck, as in MobileNetV2). The residual is the input itself
    when ``stride == 1`` and ``in_ch == out_ch``, else a 1x1 convolution with
    batch norm and the same stride, so the block always has a skip path
    (P-NET's first block needs one on 3 -> 32 channels).

    Parameters
    ----------
    in_ch, out_ch : int
        Input and output channels.
    expansion : int
        Width multiplier of the hidden layer (MobileNetV2 uses 6).
    stride : int
        1 or 2; applied by the depthwise conv and the projection shortcut.
    hidden : int, optional, keyword-only
        Hidden width overriding ``in_ch * expansion`` (P-NET keeps its width
        when its input is grayscale instead of RGB).
    """

    def __init__(self, in_ch: int, out_ch: int, expansion: int, stride: int = 1, *, hidden: int | None = None) -> None:
        super().__init__()
        _positive(in_ch=in_ch, out_ch=out_ch, expansion=expansion)
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        if hidden is None:
            hidden = in_ch * expansion
        _positive(hidden=hidden)
        self.in_channels = in_ch
        self.out_channels = out_ch
        self.stride = stride
        self.body = nn.Sequential(
            nn.Conv2d(in_ch, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, out_ch, 1, bias=False),
            nn.BatchNorm2d(out_ch),
        )
        if stride == 1 and in_ch == out_ch:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    @property
    def has_projection(self) -> bool:
        return not isinstance(self.shortcut, nn.Identity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # N x in_ch x H x W -> N x out_ch x H/stride x W/stride
        return self.body(x) + self.shortcut(x)
