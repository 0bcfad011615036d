"""P-NET, the from-scratch CNN of the novel-CNN breast cancer paper.

Layout at 224 x 224 x 3 (the paper gives the block types, ~1.05 M parameters
and 1.69 GFLOPs, not the filter counts; this plan lands on both):

====================================  ===================  ===============
block                                 output               notes
====================================  ===================  ===============
1  depthwise residual 3 -> 32          32 x 224 x 224       1x1 to 15, 3x3 depthwise, 1x1 to 32, 1x1 shortcut
   2x2 max-pool                        32 x 112 x 112
2  3x3 conv 64 + BN + ReLU + pool      64 x 56 x 56
3  3x3 conv 128 + BN + ReLU + pool     128 x 28 x 28
4  3x3 conv 256 + BN + ReLU + pool     256 x 14 x 14
5  3x3 conv 256 + BN + ReLU + pool     256 x 7 x 7
   global average pool, Dense 256 + ReLU + dropout, output layer
====================================  ===================  ===============

Smaller inputs: every block keeps its convolution (so the parameter count
does not depend on the input size) but a block pools only while the map is
at least 14 wide, i.e. the pooling stops at the first size below 14
(:func:`pool_schedule`): 28 -> 14 -> 7 uses two pools, 64 -> 32 -> 16 -> 8
three, 224 five.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from medvision_app.networks.blocks import DepthwiseResidualBlock

__all__ = ["PNetPlan", "PNetFeatures", "pool_schedule", "DEFAULT_PLAN"]


@dataclass(frozen=True)
class PNetPlan:
    """Channel plan of P-NET: first block width and hidden width, then one entry per conv block."""

    stem_channels: int = 32
    stem_hidden: int = 15  # 3 input channels x expansion 5, kept for grayscale input too
    conv_channels: tuple[int, ...] = (64, 128, 256, 256)
    target_size: int = 7

    @property
    def out_channels(self) -> int:
        return self.conv_channels[-1] if self.conv_channels else self.stem_channels


DEFAULT_PLAN = PNetPlan()


def pool_schedule(input_size: int, n_blocks: int, target_size: int = 7) -> list[bool]:
    """Which of the ``n_blocks`` blocks end with a 2x2 max-pool for a square ``input_size`` input.

    A block pools while the map is at least ``2 * target_size`` wide, so the
    last map is ``target_size`` wide for 224, 112, 56, 28 and between
    ``target_size`` and ``2 * target_size - 1`` otherwise.

    Raises
    ------
    ValueError
        When ``input_size`` is smaller than ``target_size``.
    """
    if input_size < target_size:
        raise ValueError(f"input_size must be at least {target_size}, got {input_size!r}")
    size, schedule = input_size, []
    for _ in range(n_blocks):
        pool = size >= 2 * target_size
        schedule.append(pool)
        if pool:
            size //= 2
    return schedule


def output_size(input_size: int, plan: PNetPlan = DEFAULT_PLAN) -> int:
    """Side of the last feature map for a square ``input_size`` input."""
    size = input_size
    for pool in pool_schedule(input_size, 1 + len(plan.conv_channels), plan.target_size):
        size = size // 2 if pool else size
    return size


class PNetFeatures(nn.Module):
    """P-NET's five blocks: N x in_channels x S x S -> N x 256 x s x s (s = 7 for S = 224)."""

    def __init__(self, in_channels: int = 3, input_size: int = 224, plan: PNetPlan = DEFAULT_PLAN) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {in_channels!r}")
        self.plan = plan
        self.input_size = input_size
        pools = pool_schedule(input_size, 1 + len(plan.conv_channels), plan.target_size)
        self.pools = pools
        layers: list[nn.Module] = [
            DepthwiseResidualBlock(in_channels, plan.stem_channels, 5, hidden=plan.stem_hidden)
        ]
        if pools[0]:
            layers.append(nn.MaxPool2d(2))
        prev = plan.stem_channels
        for width, pool in zip(plan.conv_channels, pools[1:], strict=False):
            block: list[nn.Module] = [
                nn.Conv2d(prev, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            ]
            if pool:
                block.append(nn.MaxPool2d(2))
            layers.append(nn.Sequential(*block))
            prev = width
        self.blocks = nn.Sequential(*layers)
        self.out_channels = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class PNetNeck(nn.Module):
    """Global average pool, Dense(``units``) + ReLU + dropout: N x C x h x w -> N x units."""

    def __init__(self, in_channels: int, units: int = 256, dropout: float = 0.2) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dense = nn.Linear(in_channels, units)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.out_features = units

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.relu(self.dense(self.pool(x).flatten(1))))
