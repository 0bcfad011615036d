"""Small networks, data and a cut-and-resume run shared by the training engine's tests."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from medvision_app.data import InMemoryDataset
from medvision_app.events import CancelToken
from medvision_app.training import CheckpointSaved


class BNNet(nn.Module):
    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4, momentum=0.01)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(4, classes)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x))).mean((2, 3))
        return self.fc(self.drop(h))


def small_data(n: int = 48, seed: int = 0, augment=None) -> InMemoryDataset:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 12, 12), dtype=np.uint8)
    labels = np.arange(n) % 2
    images[labels == 1, :, :6] = 255  # a learnable left-half brightness
    return InMemoryDataset(images, labels, augment=augment)


def full_and_resumed(trainer, tmp_path, cut_after: int = 2):
    """Two runs of ``trainer(folder, seed=0, **kw)``: one straight through, one cancelled after
    epoch ``cut_after``'s checkpoint and resumed by a fresh trainer (other initial weights and
    random state, as a new process would have); both run to the end."""
    full = trainer(tmp_path / "full")
    full.run()
    cancel = CancelToken()

    def stop(event):
        if isinstance(event, CheckpointSaved) and event.epoch == cut_after:
            cancel.cancel()

    assert trainer(tmp_path / "cut", emit=stop, cancel=cancel).run().reason == "cancelled"
    resumed = trainer(tmp_path / "cut", seed=99).resume(tmp_path / "cut" / "checkpoints" / "last.pt")
    resumed.run()
    return full, resumed
