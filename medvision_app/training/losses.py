"""Loss functions and the class weights of the HAM10000 work."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from medvision_app.training.errors import TrainingError


def class_weights(labels: np.ndarray | Sequence[int], num_classes: int) -> np.ndarray:
    """W_c = N / (C * N_c): the inverse class frequency, 1 for every class when balanced.

    Raises :class:`TrainingError` when a class has no training sample, since
    its weight would be infinite.
    """
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise TrainingError(f"class index {int(empty[0])} has no training sample: the weighted loss is undefined")
    return len(labels) / (num_classes * counts)


class BinaryCrossEntropy(nn.Module):
    """BCE on logits: one logit per sample (positive = class 1) or one per class (one-hot)."""

    def __init__(self, pos_weight: Optional[torch.Tensor] = None) -> None:
        super().__init__()
        self.pos_weight = pos_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.ndim == 2 and logits.shape[1] == 1:
            return F.binary_cross_entropy_with_logits(logits[:, 0], target.to(logits.dtype))
        onehot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, onehot)


def build_loss(name: str, train_labels: np.ndarray, num_classes: int, *, label_smoothing: float = 0.0) -> nn.Module:
    """The loss module for ``name`` (``ce``, ``weighted_ce``, ``bce``), targets smoothed by ``label_smoothing``."""
    if name == "ce":
        return nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    if name == "weighted_ce":
        weights = torch.as_tensor(class_weights(train_labels, num_classes), dtype=torch.float32)
        return nn.CrossEntropyLoss(weight=weights, label_smoothing=label_smoothing)
    if name == "bce":
        if label_smoothing > 0:
            from medvision_app.training.regularisation import SmoothedBinaryCrossEntropy

            return SmoothedBinaryCrossEntropy(label_smoothing)
        return BinaryCrossEntropy()
    raise TrainingError(f"unknown loss {name!r}")


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """Class probabilities ``(N, C)``; a single logit becomes ``[1 - p, p]``."""
    if logits.ndim == 2 and logits.shape[1] == 1:
        p = torch.sigmoid(logits.float())
        return torch.cat([1 - p, p], dim=1)
    return torch.softmax(logits.float(), dim=1)
