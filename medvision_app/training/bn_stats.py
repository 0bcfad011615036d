"""Batch-norm statistics that keep up: recompute the running statistics of trained weights.

EfficientNet-Lite's batch-norm momentum (0.01, from its TensorFlow weights)
moves the running statistics 1 % per step: on a few hundred images they end
far from what the trained layers produce, and the network evaluates on
statistics of the ImageNet start. Recomputing them with one pass over the
training images (the cumulative average, PyTorch's ``momentum=None``) lifted
EfficientNet-Lite0 on BreastMNIST from 0.788 / 0.800 to 0.833 / 0.821 test
AUC / accuracy (issue 16).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def batch_norm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, _BN) and m.track_running_stats]


@torch.no_grad()
def reestimate_batch_norm(model: nn.Module, dataset: Any, device: torch.device, *, batch_size: int = 64) -> int:
    """Replace every batch-norm layer's running mean and variance by their averages over ``dataset``.

    ``dataset`` has ``len()`` and ``batch(index, epoch) -> (x, y, metadata)``;
    its augmentation is switched off for the pass (the statistics must be
    those of the images evaluation sees). Everything else in the model stays
    in evaluation mode (dropout off); the model is left in evaluation mode.
    Returns the number of layers re-estimated (0: nothing to do).
    """
    layers = batch_norm_layers(model)
    if not layers or len(dataset) == 0:
        return 0
    momenta = [m.momentum for m in layers]
    augment = getattr(dataset, "augment", None)
    model.eval().to(device)
    try:
        if augment is not None:
            dataset.augment = None
        for m in layers:
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average: every batch counts the same
            m.train()
        order = torch.arange(len(dataset)).split(batch_size)
        for index in order:
            # BatchNorm cannot use a batch of one sample in training mode
            if len(index) < 2 and len(order) > 1:
                continue
            x, _, meta = dataset.batch(index, 0)
            x = x.to(device)
            model(x) if meta is None else model(x, meta.to(device))
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
        if augment is not None:
            dataset.augment = augment
        model.eval()
    return len(layers)
