"""Parameter and multiply-add counts, for model cards, the NAS and checking P-NET against its paper.

Convention: :func:`count_flops` counts the multiply-accumulate operations
(MACs) of convolutions and linear layers for one image, nothing else (no bias
additions, batch norm, activations or pooling: they are a few percent). Many
papers, and Keras/TensorFlow profilers, report FLOPs as 2 x MACs: VGG16's
"30.69 GFLOPs" in the P-NET paper is 2 x 15.35 G MACs. Compare our figure
times two with such numbers.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["count_parameters", "count_flops"]


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(
    model: nn.Module, input_size: int | tuple[int, int], in_channels: int = 3, metadata_features: int = 0
) -> int:
    """Multiply-adds of conv and linear layers for one ``in_channels`` x H x W image.

    Runs one forward pass of a zero batch of 1 in eval mode on the model's
    device, with hooks on every ``Conv*d`` and ``Linear``; the model's
    training flag is restored. A model with a metadata branch gets a zero
    metadata vector of ``metadata_features``.

    Returns
    -------
    int
        MACs; multiply by 2 for FLOPs in the Keras/TensorFlow sense.
    """
    h, w = (input_size, input_size) if isinstance(input_size, int) else input_size
    if h < 1 or w < 1:
        raise ValueError(f"input_size must be positive, got {input_size!r}")
    total = 0

    def conv_hook(module: nn.modules.conv._ConvNd, _inp, out: torch.Tensor) -> None:
        nonlocal total
        kernel = 1
        for k in module.kernel_size:
            kernel *= k
        total += out.numel() // out.shape[0] * (module.in_channels // module.groups) * kernel

    def linear_hook(module: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() // out.shape[0] * module.in_features

    hooks = []
    for module in model.modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            hooks.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(linear_hook))
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(1, in_channels, h, w, device=device)
            if metadata_features:
                model(x, torch.zeros(1, metadata_features, device=device))
            else:
                model(x)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return int(total)
