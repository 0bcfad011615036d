"""Soft-Attention (Datta et al.; used by the HAM10000 Soft-Attention paper) and its classifier head."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

__all__ = ["SoftAttention", "SoftAttentionHead"]


class SoftAttention(nn.Module):
    """Soft-Attention on a feature map ``t``: ``f_sa = gamma * t * sum_k softmax(W_k * t)``.

    A 3x3 convolution from the ``C`` channels of ``t`` to ``K`` maps, ReLU,
    a softmax over the H x W positions of each map (so each map sums to 1),
    the ``K`` maps summed into ``alpha`` (N x 1 x H x W), and the output
    ``gamma * alpha * t`` with a learnable scalar ``gamma`` initialised to 0,
    so the module starts as a no-op on the head it feeds and learns how much
    attention to mix in.

    This follows the paper's description. The authors' published Keras layer
    differs: its 3D-convolution kernel spans only three input channels (it
    slides along the channel axis instead of seeing all ``C``), and it has no
    ``gamma``. We implement the paper's intent; weights trained with the
    Keras layer do not transfer.

    Parameters
    ----------
    in_channels : int
        ``C``, the channels of ``t``.
    k : int
        ``K``, the number of attention maps (16 in the papers).

    Returns (from ``forward``)
    --------------------------
    out : Tensor, N x C x H x W
        ``gamma * alpha * t``.
    maps : Tensor, N x K x H x W
        The K softmax-normalised attention maps (each sums to 1 over H x W),
        kept for heatmaps.
    """

    def __init__(self, in_channels: int, k: int = 16) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("k", k)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.in_channels = in_channels
        self.k = k
        self.conv = nn.Conv2d(in_channels, k, 3, padding=1)
        self.relu = nn.ReLU()
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, _, h, w = t.shape
        logits = self.relu(self.conv(t))  # N x K x H x W
        maps = torch.softmax(logits.flatten(2), dim=-1).reshape(n, self.k, h, w)
        alpha = maps.sum(dim=1, keepdim=True)  # N x 1 x H x W
        return self.gamma * alpha * t, maps


class SoftAttentionHead(nn.Module):
    """The HAM10000 Soft-Attention head: attention, two max-pooled paths, ReLU, dropout, classifier.

    Path one max-pools ``t``; path two max-pools the attended features
    ``SoftAttention(t)``; the two are concatenated (2C features), passed
    through ReLU and dropout, optionally concatenated with ``extra_features``
    (the metadata branch's output), and classified by a linear layer.

    The published Keras model max-pools 2x2 and flattens, which ties the
    classifier to one input size; we max-pool globally so that the head works
    for any feature-map size (and exports to ONNX with a dynamic size).

    ``forward(t, extra=None)`` returns ``(logits N x num_classes, maps N x K x H x W)``.
    """

    def __init__(
        self, in_channels: int, num_classes: int, k: int = 16, dropout: float = 0.5, extra_features: int = 0
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be at least 1, got {num_classes!r}")
        if extra_features < 0:
            raise ValueError(f"extra_features must be >= 0, got {extra_features!r}")
        self.extra_features = extra_features
        self.attention = SoftAttention(in_channels, k)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * in_channels + extra_features, num_classes)

    def forward(self, t: torch.Tensor, extra: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
        attended, maps = self.attention(t)
        pooled = torch.cat([self.pool(t).flatten(1), self.pool(attended).flatten(1)], dim=1)  # N x 2C
        features = self.dropout(self.relu(pooled))
        if self.extra_features:
            if extra is None:
                raise ValueError(f"this head expects {self.extra_features} extra features (metadata); got none")
            features = torch.cat([features, extra], dim=1)
        return self.classifier(features), maps
