"""Class activation maps computed inside the network's own forward pass (no gradients).

For a network whose neck starts with global average pooling, the class score
is a function of the pooled vector ``p = mean(A)`` of the last feature maps
``A`` (C x h x w). When the rest of the neck and the head are linear layers
and piecewise-linear activations (ReLU, ReLU6, Hardswish, dropout), the score
is, at the current input, ``s_c = g_c . p + const`` with ``g_c`` the product
of the layers' weights and the activations' slopes. The map
``relu(sum_k g_c[k] A_k)`` is then the classic CAM (Zhou et al., 2016) for a
pooling + linear head, and for deeper necks it equals Grad-CAM taken at the
feature maps (Grad-CAM's weights are ``g_c / (h w)``): the same map, computed
with matrix products that export to ONNX. SqueezeNet's 1x1-convolution head
gives its class maps directly.

Heads that flatten a spatial map into a dense layer (AlexNet's classifier on a
6 x 6 map) support neither; :func:`cam_support` says why, and Grad-CAM on the
run's checkpoint remains the way for them.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

__all__ = ["CamUnsupported", "ClassActivationMaps", "cam_support"]

# slope functions of the activations the walk can see through (z: pre-activation)
_SLOPES = {
    nn.ReLU: lambda z: (z > 0).to(z.dtype),
    nn.ReLU6: lambda z: ((z > 0) & (z < 6)).to(z.dtype),
    nn.Hardswish: lambda z: torch.where(z <= -3, torch.zeros_like(z),
                                        torch.where(z >= 3, torch.ones_like(z), (2 * z + 3) / 6)),
}
_TRANSPARENT = (nn.Dropout, nn.Identity, nn.Flatten)


class CamUnsupported(ValueError):
    """The network's head admits no class activation map; the message says why."""


def _flat_layers(module: nn.Module) -> list[nn.Module]:
    """The neck's layers in execution order (Sequentials and P-NET's neck unrolled)."""
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _flat_layers(child)]
    names = ("pool", "dense", "relu", "dropout")
    if all(hasattr(module, n) for n in names) and type(module).__name__ == "PNetNeck":
        return [getattr(module, n) for n in names] + [nn.Flatten(1)]
    return [module]


def _is_global_avg_pool(layer: nn.Module) -> bool:
    size = getattr(layer, "output_size", None)
    return isinstance(layer, nn.AdaptiveAvgPool2d) and size in (1, (1, 1))


def _plan(net: nn.Module) -> tuple[str, list[nn.Module]]:
    """("conv", []) for a 1x1-conv head, ("linear", mlp layers) for pooling + MLP + linear; else raise."""
    head = getattr(net, "head", None)
    neck = getattr(net, "neck", None)
    if head is None or neck is None or not hasattr(net, "features"):
        raise CamUnsupported(f"{type(net).__name__} is not split into features, neck and head")
    if getattr(net, "has_attention", False):
        raise CamUnsupported("Soft-Attention networks give their attention maps instead")
    classifier = getattr(head, "classifier", None)
    if isinstance(classifier, nn.Conv2d) and classifier.kernel_size == (1, 1):
        if isinstance(neck, nn.Identity):
            return "conv", []
        raise CamUnsupported("a 1x1-convolution head after a neck")
    if not isinstance(classifier, nn.Linear):
        raise CamUnsupported(f"the head's classifier is a {type(classifier).__name__}, not a linear layer")
    layers = [layer for layer in _flat_layers(neck) if not isinstance(layer, _TRANSPARENT)]
    if not layers or not _is_global_avg_pool(layers[0]):
        first = type(layers[0]).__name__ if layers else "a flatten"
        raise CamUnsupported(f"the head starts with {first}, not global average pooling: the dense layers see "
                             "each position separately (use Grad-CAM with the training run)")
    mlp = layers[1:]
    for layer in mlp:
        if not isinstance(layer, nn.Linear) and type(layer) not in _SLOPES:
            raise CamUnsupported(f"the head has a {type(layer).__name__} between pooling and classifier")
    return "linear", mlp


def cam_support(net: nn.Module) -> Optional[str]:
    """None when :class:`ClassActivationMaps` works on ``net``, else the reason it cannot."""
    try:
        _plan(net)
    except CamUnsupported as exc:
        return str(exc)
    return None


class ClassActivationMaps(nn.Module):
    """``(features N x C x h x w) -> maps N x classes x h x w`` (ReLU applied, not normalised).

    Built from a :class:`~medvision_app.networks.model.MedVisionNet`; shares
    its layers (no copies), so it follows the network's weights.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.kind, mlp = _plan(net)
        self.classifier = net.head.classifier
        self.mlp = nn.ModuleList(mlp)
        self.extra = int(getattr(net.head, "extra_features", 0) or 0)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        if self.kind == "conv":
            return torch.relu(self.classifier(fmap))  # N x classes x h x w
        v = fmap.mean(dim=(2, 3))  # N x C
        weights: list[torch.Tensor] = []
        slopes: list[Optional[torch.Tensor]] = []
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                z = layer(v)
                weights.append(layer.weight)
                slopes.append(None)
                v = z
            else:
                slopes[-1] = _SLOPES[type(layer)](v) if slopes else None
                v = layer(v)
        w = self.classifier.weight
        if self.extra:
            # metadata columns add a constant over the image: no place in the map
            w = w[:, : w.shape[1] - self.extra]
        g = w.unsqueeze(0).expand(fmap.shape[0], -1, -1)  # N x classes x D
        for weight, slope in zip(reversed(weights), reversed(slopes), strict=True):
            if slope is not None:
                g = g * slope.unsqueeze(1)
            g = torch.matmul(g, weight)  # N x classes x D_prev
        # N x classes x C  @  N x C x (h w)
        n, c, h, wd = fmap.shape
        maps = torch.matmul(g, fmap.reshape(n, c, h * wd)).reshape(n, -1, h, wd)
        return torch.relu(maps)
