"""Label smoothing and mixup: regularisers for a few hundred training images.

Mixup (Zhang et al. 2018) blends each batch with a shuffled copy of itself,
``x = lam x_i + (1 - lam) x_j``, and the loss the same way. Its random
draws come from a generator seeded by ``(seed, epoch, batch)`` alone, so a
resumed run mixes the same pairs as an uninterrupted one without any state
in the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Mix:
    """A mixed batch: the inputs, the partner labels ``y_b`` and the weight ``lam`` of the originals."""

    x: torch.Tensor
    metadata: Optional[torch.Tensor]
    y_b: torch.Tensor
    lam: float


def mixup(x: torch.Tensor, y: torch.Tensor, metadata: Optional[torch.Tensor], alpha: float, *,
          seed: int, epoch: int, batch: int) -> Mix:
    """Blend the batch with a permutation of itself; ``lam ~ Beta(alpha, alpha)``.

    Metadata (age, sex, site) are blended with the same weight, as the images are.
    """
    if alpha <= 0:
        raise ValueError(f"mixup alpha {alpha} must be above 0")
    rng = np.random.default_rng([seed, epoch, batch, 0x6D6978])
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(len(x))).to(x.device)
    mixed = lam * x + (1 - lam) * x[perm]
    meta = None if metadata is None else lam * metadata + (1 - lam) * metadata[perm]
    return Mix(mixed, meta, y[perm], lam)


def mixed_loss(criterion: nn.Module, logits: torch.Tensor, y: torch.Tensor, mix: Mix) -> torch.Tensor:
    """``lam * loss(y) + (1 - lam) * loss(y_b)``: the loss of the blended targets for a linear-in-target loss."""
    return mix.lam * criterion(logits, y) + (1 - mix.lam) * criterion(logits, mix.y_b)


class SmoothedBinaryCrossEntropy(nn.Module):
    """BCE on logits against targets pulled towards 1/2 (one logit) or 1/C (one per class) by ``smoothing``."""

    def __init__(self, smoothing: float) -> None:
        super().__init__()
        self.smoothing = float(smoothing)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.ndim == 2 and logits.shape[1] == 1:
            t = target.to(logits.dtype) * (1 - self.smoothing) + self.smoothing / 2
            return F.binary_cross_entropy_with_logits(logits[:, 0], t)
        classes = logits.shape[1]
        onehot = F.one_hot(target, classes).to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, onehot * (1 - self.smoothing) + self.smoothing / classes)
