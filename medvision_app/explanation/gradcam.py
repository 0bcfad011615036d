"""Grad-CAM and Grad-CAM++ for networks without Soft-Attention.

Written here rather than taken from the ``grad-cam`` package, which would add
OpenCV and matplotlib to the install for about sixty lines of hooks. The hooks
are removed when the call returns, even on error.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from medvision_app.explanation.attention import normalise

METHODS = ("gradcam", "gradcam++")


def _call(net: nn.Module, image: torch.Tensor, metadata: Optional[torch.Tensor]) -> torch.Tensor:
    if hasattr(net, "forward_with_attention"):
        logits, _ = net.forward_with_attention(image, metadata)
        return logits
    out = net(image) if metadata is None else net(image, metadata)
    return out[0] if isinstance(out, tuple) else out


def find_target_layer(net: nn.Module, image: torch.Tensor, metadata: Optional[torch.Tensor] = None) -> str:
    """Dotted name of the last convolution (in execution order) whose output is still spatial.

    "Spatial" means an output of shape (N, C, h, w) with h * w > 1. When the
    network has a ``features`` backbone (MedVision networks do), its last such
    convolution is chosen, so that a Soft-Attention head's own map convolution
    is not mistaken for the image features.
    """
    order: list[tuple[str, tuple]] = []
    handles = []
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(
                lambda _m, _i, out, name=name: order.append((name, tuple(out.shape)))))
    try:
        with torch.no_grad():
            _call(net, image, metadata)
    finally:
        for handle in handles:
            handle.remove()
    spatial = [name for name, shape in order if len(shape) == 4 and shape[2] * shape[3] > 1]
    backbone = [name for name in spatial if name.startswith("features.")]
    spatial = backbone or spatial
    if not spatial:
        raise ValueError(f"{type(net).__name__} has no convolution with a spatial output; name a layer explicitly")
    return spatial[-1]


def grad_cam(
    net: nn.Module,
    image: np.ndarray | torch.Tensor,
    *,
    target_class: Optional[int] = None,
    layer: Optional[str] = None,
    method: str = "gradcam",
    metadata: Optional[np.ndarray | torch.Tensor] = None,
) -> tuple[np.ndarray, int]:
    """Class activation map of one preprocessed image.

    Parameters
    ----------
    net : nn.Module
        The network (put in eval mode for the call, restored after).
    image : array (C, H, W) or (1, C, H, W), float32
        The model-space input.
    target_class : int, optional
        Class to explain; default the predicted one.
    layer : str, optional
        Dotted module name; default :func:`find_target_layer`.
    method : {"gradcam", "gradcam++"}
    metadata : array (F,) or (1, F), optional

    Returns
    -------
    (heatmap, target_class) : heatmap float32 (H, W) in [0, 1], upsampled
    bilinearly to the input size.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    x = torch.as_tensor(np.asarray(image, dtype=np.float32))
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"image must be (C, H, W) or (1, C, H, W), got {tuple(x.shape)}")
    meta = None
    if metadata is not None:
        meta = torch.as_tensor(np.asarray(metadata, dtype=np.float32)).reshape(1, -1)
    was_training = net.training
    net.eval()
    try:
        name = layer or find_target_layer(net, x, meta)
        modules = dict(net.named_modules())
        if name not in modules:
            raise ValueError(f"layer {name!r} not found in {type(net).__name__}")
        store: dict[str, torch.Tensor] = {}

        def keep(_module, _inputs, output):
            store["activation"] = output
            output.register_hook(lambda grad: store.__setitem__("gradient", grad))

        handle = modules[name].register_forward_hook(keep)
        try:
            with torch.enable_grad():
                x = x.clone().requires_grad_(True)
                logits = _call(net, x, meta)
                if target_class is None:
                    target_class = int(logits[0].argmax())
                if not 0 <= target_class < logits.shape[1]:
                    raise ValueError(f"target_class {target_class} out of range for {logits.shape[1]} classes")
                net.zero_grad(set_to_none=True)
                logits[0, target_class].backward()
        finally:
            handle.remove()
        if "activation" not in store or "gradient" not in store:
            raise ValueError(f"layer {name!r} did not take part in the forward pass")
        acts = store["activation"].detach()[0].double()  # C x h x w
        grads = store["gradient"].detach()[0].double()
        if acts.ndim != 3:
            raise ValueError(f"layer {name!r} output is not spatial: {tuple(acts.shape)}")
        weights = _weights(acts, grads, method)
        cam = torch.relu((weights[:, None, None] * acts).sum(0))
        cam = torch.nn.functional.interpolate(cam[None, None], size=tuple(x.shape[2:]), mode="bilinear",
                                              align_corners=False)[0, 0]
        net.zero_grad(set_to_none=True)
    finally:
        net.train(was_training)
    return normalise(cam.numpy()), int(target_class)


def _weights(acts: torch.Tensor, grads: torch.Tensor, method: str) -> torch.Tensor:
    if method == "gradcam":
        return grads.mean(dim=(1, 2))
    # Grad-CAM++ (Chattopadhay et al., 2018), with the exponential-score simplification.
    g2 = grads ** 2
    g3 = g2 * grads
    denom = 2 * g2 + acts.sum(dim=(1, 2))[:, None, None] * g3
    alpha = torch.where(grads != 0, g2 / torch.where(denom != 0, denom, torch.ones_like(denom)), torch.zeros_like(g2))
    return (alpha * torch.relu(grads)).sum(dim=(1, 2))


class GradCamExplainer:
    """``predict``'s explainer for networks without attention: Grad-CAM(++) of a PyTorch network.

    Call it with a model-space input ``(C, H, W)`` and a class index; it
    returns the map ``(H, W)`` in [0, 1]. ``layer`` is found on the first call
    unless given.
    """

    def __init__(self, net: nn.Module, *, method: str = "gradcam", layer: Optional[str] = None) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.net = net
        self.method = method
        self.layer = layer
        self.kind = "grad-cam++" if method == "gradcam++" else "grad-cam"

    def __call__(self, image: np.ndarray, target_class: int, metadata: Optional[np.ndarray] = None) -> np.ndarray:
        x = torch.as_tensor(np.asarray(image, dtype=np.float32))[None]
        meta = None if metadata is None else torch.as_tensor(np.asarray(metadata, dtype=np.float32)).reshape(1, -1)
        members = getattr(self.net, "members", None)
        if members is not None and self.layer is None:
            # an ensemble (networks/ensemble.py): each member's map of the class, averaged, as its exported CAM is
            maps = [grad_cam(m, x, target_class=target_class, method=self.method, metadata=meta)[0] for m in members]
            return normalise(np.mean(maps, axis=0))
        if self.layer is None:
            self.layer = find_target_layer(self.net, x, meta)
        cam, _ = grad_cam(self.net, x, target_class=target_class, layer=self.layer, method=self.method,
                          metadata=meta)
        return cam


def gradcam_explainer(net: nn.Module, *, method: str = "gradcam", layer: Optional[str] = None) -> GradCamExplainer:
    return GradCamExplainer(net, method=method, layer=layer)
