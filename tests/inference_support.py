"""Small networks and cards shared by the inference and explanation tests."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from medvision_app.inference.card import MetricValue, ModelCard, TrainingData
from medvision_app.networks.attention import SoftAttention


class TinyAttentionNet(nn.Module):
    """conv -> Soft-Attention -> pooled -> linear, stride 1 throughout.

    ``symmetric=True`` sets every kernel to a positive constant, which makes
    the attention maps exactly equivariant to flips and peaked on bright areas.
    """

    has_attention = True

    def __init__(self, in_channels: int = 1, classes: int = 2, k: int = 4, *, symmetric: bool = False,
                 metadata_features: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 6, 3, padding=1)
        self.attention = SoftAttention(6, k)
        self.metadata_features = metadata_features
        self.fc = nn.Linear(6 + metadata_features, classes)
        if symmetric:
            with torch.no_grad():
                self.conv.weight.fill_(1.0 / (9 * in_channels))
                self.conv.bias.zero_()
                self.attention.conv.weight.fill_(20.0 / (9 * 6))
                self.attention.conv.bias.zero_()
                self.attention.gamma.fill_(1.0)

    def forward_with_attention(self, x: torch.Tensor, metadata: Optional[torch.Tensor] = None):
        t = torch.relu(self.conv(x))  # N x 6 x H x W
        attended, maps = self.attention(t)
        pooled = (t + attended).mean(dim=(2, 3))
        if self.metadata_features:
            pooled = torch.cat([pooled, metadata], dim=1)
        return self.fc(pooled), maps

    def forward(self, x: torch.Tensor, metadata: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.forward_with_attention(x, metadata)[0]


class TinyCnn(nn.Module):
    """Two convolutions and a classifier: a network without attention (for Grad-CAM)."""

    def __init__(self, in_channels: int = 1, classes: int = 2) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


def tiny_card(*, size=(28, 28), channels: int = 1, attention: bool = True, classes=("malignant", "benign"),
              preprocessing: Optional[dict] = None, metadata_features: int = 0) -> ModelCard:
    return ModelCard(
        name="tiny",
        classes=list(classes),
        input_size=tuple(size),
        input_channels=channels,
        preprocessing=preprocessing or {},
        architecture="tiny test network",
        attention=attention,
        metadata_features=metadata_features,
        training_data=TrainingData(source="none (test)", split="none"),
        metrics={"auc": MetricValue(0.5, 0.4, 0.6)},
    )


def breastmnist_batch(shared_data: Path, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` BreastMNIST test images as (n, 1, 28, 28) float32 in [0, 1], and their labels."""
    with np.load(shared_data / "breastmnist" / "breastmnist.npz") as npz:
        images = npz["test_images"][:n].astype(np.float32) / 255.0
        labels = npz["test_labels"][:n, 0].astype(np.int64)
    return images[:, None], labels


def home_with_signing_key(monkeypatch, home: Path) -> Path:
    """Point ``MEDVISION_HOME`` at ``home`` carrying over the current model-signing key, so models a
    module-scoped fixture exported (and signed) before the switch still read as "signed"."""
    import os
    import shutil

    previous = os.environ.get("MEDVISION_HOME")
    if previous and (Path(previous) / "keys").is_dir() and not (home / "keys").exists():
        shutil.copytree(Path(previous) / "keys", home / "keys")
    monkeypatch.setenv("MEDVISION_HOME", str(home))
    return home
