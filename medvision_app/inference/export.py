"""PyTorch network -> one verified ``.onnx`` file with its model card.

The exported graph outputs class probabilities (softmax inside the graph) and
a heatmap source: the attention maps of Soft-Attention networks, else the
class activation maps (:mod:`medvision_app.explanation.cam`) where the head
allows them, so the file alone explains its predictions; its batch axis is
dynamic.
Before the file is written the graph is run by onnxruntime on real inputs and
compared with PyTorch: a difference above the tolerance refuses the export.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import onnx
import torch
from torch import nn

from medvision_app.inference.card import (
    CARD_HASH_KEY,
    CARD_KEY,
    HEATMAP_ATTENTION,
    HEATMAP_CAM,
    HEATMAP_NONE,
    ModelCard,
)
from medvision_app.inference.errors import ModelError
from medvision_app.inference.hashing import canonical_bytes, graph_sha256, text_sha256
from medvision_app.inference.model import (
    ATTENTION_OUTPUT,
    CAM_OUTPUT,
    IMAGE_INPUT,
    METADATA_INPUT,
    PROBS_OUTPUT,
    card_path_for,
    verify_bytes,
)
from medvision_app.inference.runtime import Session
from medvision_app.inference.signing import SIGNATURE_KEY, sign
from medvision_app.utils.atomic import atomic_write_bytes, atomic_write_text
from medvision_app.utils.config_io import ConfigError

PROB_TOLERANCE = 1e-4
OPSET = 17


class _ProbabilityGraph(nn.Module):
    """What is exported: the network plus softmax, attention maps or class activation maps second."""

    def __init__(self, net: nn.Module, with_metadata: bool, with_attention: bool,
                 cam: Optional[nn.Module] = None, flips: tuple = ((),)) -> None:
        super().__init__()
        self.net = net
        self.with_metadata = with_metadata
        self.with_attention = with_attention
        self.cam = cam
        # test-time augmentation (card.tta): logits averaged over these torch.flip dims; maps of the unflipped view
        self.flips = tuple(tuple(d) for d in flips)

    def _logits_and_cam(self, image, metadata):
        members = getattr(self.net, "members", None)
        if members is None:
            return _member_logits_and_cam(self.net, self.cam, image, metadata)
        # an ensemble (networks/ensemble.py): its combined logits, the mean of its members' maps
        outs = [_member_logits_and_cam(m, c, image, metadata) for m, c in zip(members, self.cam, strict=True)]
        from medvision_app.networks.ensemble import combine_logits

        return combine_logits([z for z, _ in outs]), torch.stack([a for _, a in outs]).mean(0)

    def _logits_and_maps(self, image, metadata):
        if self.cam is not None:
            return self._logits_and_cam(image, metadata)
        if hasattr(self.net, "forward_with_attention"):
            return self.net.forward_with_attention(image, metadata)
        out = self.net(image, metadata) if self.with_metadata else self.net(image)
        return out if isinstance(out, tuple) else (out, None)

    def forward(self, image: torch.Tensor, metadata: Optional[torch.Tensor] = None):
        logits, maps = self._logits_and_maps(image, metadata)
        logits = logits.float()
        for dims in self.flips:
            if dims:
                logits = logits + self._logits_and_maps(torch.flip(image, dims), metadata)[0].float()
        if len(self.flips) > 1:
            logits = logits / len(self.flips)
        if logits.shape[1] == 1:  # one BCE logit: the two-class softmax of [0, z]
            logits = torch.cat([torch.zeros_like(logits), logits], dim=1)
        probs = torch.softmax(logits, dim=1)
        if self.with_attention or self.cam is not None:
            return probs, maps
        return probs


def _member_logits_and_cam(net: nn.Module, cam: nn.Module, image, metadata):
    # MedVisionNet.forward_with_attention, keeping the feature maps for the CAM.
    x = image.expand(-1, 3, -1, -1) if net.gray_to_rgb else image
    extra = net.metadata(metadata.to(x.dtype)) if net.metadata is not None else None
    fmap = net.features(x)  # N x C x h x w
    logits, _ = net.head(net.neck(fmap), extra)
    return logits, cam(fmap)


def _module_has_attention(net: nn.Module) -> bool:
    flag = getattr(net, "has_attention", False)
    return bool(flag() if callable(flag) else flag)


def _cam_for(net: nn.Module, with_attention: bool) -> tuple[Optional[nn.Module], str, str]:
    """(CAM module or None, card ``heatmap``, card ``heatmap_note``) for ``net``."""
    if with_attention:
        return None, HEATMAP_ATTENTION, "the Soft-Attention maps (mean of K, or each)"
    from medvision_app.explanation.cam import ClassActivationMaps, cam_support

    members = getattr(net, "members", None)
    reason = cam_support(net if members is None else members[0])
    if reason is not None:
        return None, HEATMAP_NONE, (f"no heatmap in the file: {reason}; use Grad-CAM with the training run "
                                    "(medvision predict --gradcam RUN_DIR)")
    if members is not None:
        return (nn.ModuleList([ClassActivationMaps(m) for m in members]), HEATMAP_CAM,
                f"class activation maps: the mean over the {len(members)} ensemble members of their last "
                "feature maps weighted by their heads' weights")
    return (ClassActivationMaps(net), HEATMAP_CAM,
            "class activation maps: the last feature maps weighted by the head's weights")


def _to_onnx_bytes(graph: _ProbabilityGraph, images: torch.Tensor, metadata: Optional[torch.Tensor]) -> bytes:
    args: tuple = (images[:1],) if metadata is None else (images[:1], metadata[:1])
    input_names = [IMAGE_INPUT] + ([METADATA_INPUT] if metadata is not None else [])
    output_names = [PROBS_OUTPUT] + ([ATTENTION_OUTPUT] if graph.with_attention else [])
    output_names += [CAM_OUTPUT] if graph.cam is not None else []
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated but is the one that writes a single file.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            args,
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes={name: {0: "batch"} for name in input_names + output_names},
            do_constant_folding=True,
        )
    return buffer.getvalue()


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0


def check_against_torch(
    data: bytes,
    graph: nn.Module,
    images: torch.Tensor,
    metadata: Optional[torch.Tensor],
    *,
    tolerance: float = PROB_TOLERANCE,
) -> dict[str, float]:
    """Run the ONNX bytes and the module on the same inputs; return the max abs differences.

    Raises ``ValueError`` naming the output and difference when it exceeds ``tolerance``.
    """
    with torch.no_grad():
        ref = graph(images, metadata)
    ref = ref if isinstance(ref, tuple) else (ref,)
    session = Session(data, device="cpu")
    feeds = {IMAGE_INPUT: images.numpy()}
    if metadata is not None:
        feeds[METADATA_INPUT] = metadata.numpy()
    got = session.run(feeds)
    diffs = {}
    for name, expected in zip(session.output_names, ref, strict=False):
        expected = expected.detach().numpy()
        actual = got[name]
        if actual.shape != expected.shape:
            raise ValueError(f"ONNX output {name!r} has shape {actual.shape}, PyTorch {expected.shape}")
        diffs[name] = _max_abs_diff(actual, expected)
        # Maps (attention, CAM) are not probabilities: their scale is the network's
        # (a Lite0 CAM reaches tens), so their tolerance is relative to it.
        scale = 1.0 if name == PROBS_OUTPUT or not expected.size else max(1.0, float(np.abs(expected).max()))
        if diffs[name] > tolerance * scale:
            raise ValueError(f"ONNX output {name!r} differs from PyTorch by {diffs[name]:.2e} "
                             f"(tolerance {tolerance:.0e})")
    return diffs


def export_module(
    net: nn.Module,
    card: ModelCard,
    images: np.ndarray | torch.Tensor,
    out: str | Path,
    *,
    metadata: Optional[np.ndarray | torch.Tensor] = None,
    tolerance: float = PROB_TOLERANCE,
) -> tuple[Path, dict[str, float]]:
    """Export ``net`` to ``out`` as one ONNX file carrying ``card``.

    Parameters
    ----------
    net : nn.Module
        Returns logits ``(N, classes)``, or has ``forward_with_attention(x,
        metadata) -> (logits, maps | None)`` (MedVision networks).
    card : ModelCard
        Its ``graph_sha256`` is filled in here; the input is not modified.
    images : array (N, C, H, W) float32
        Real, preprocessed inputs for the numerical check (a few suffice).
    out : path
        The ``.onnx`` file; the card is also written beside it as JSON.
    metadata : array (N, F), optional
        The metadata inputs matching ``images`` for metadata-fusion networks.

    Returns
    -------
    (path, diffs) : the written file and the max abs difference per output.

    Raises
    ------
    ModelError
        The card's preprocessing is invalid, the export differs from PyTorch
        beyond ``tolerance`` (nothing is written), or the result fails verification.
    """
    out = Path(out)
    if out.suffix != ".onnx":
        raise ModelError(out, "model files must end in .onnx")
    try:
        card.pipeline()
    except ConfigError as exc:
        raise ModelError(out, f"card preprocessing is invalid: {exc}") from None
    images = torch.as_tensor(np.asarray(images, dtype=np.float32))
    meta = None if metadata is None else torch.as_tensor(np.asarray(metadata, dtype=np.float32))
    if images.ndim != 4 or tuple(images.shape[1:]) != (card.input_channels, *card.input_size):
        raise ModelError(out, f"check images have shape {tuple(images.shape)}, card expects "
                              f"(N, {card.input_channels}, {card.input_size[0]}, {card.input_size[1]})")
    if (meta is not None) != (card.metadata_features > 0):
        raise ModelError(out, f"card has {card.metadata_features} metadata features but metadata "
                              f"{'was' if meta is not None else 'was not'} given for the check")
    was_training = net.training
    net.eval()
    try:
        with_attention = _module_has_attention(net)
        if with_attention != card.attention:
            raise ModelError(out, f"card says attention={card.attention} but the network "
                                  f"{'has' if with_attention else 'has no'} Soft-Attention")
        cam, heatmap, note = _cam_for(net, with_attention)
        card = dataclasses.replace(card, heatmap=heatmap, heatmap_note=note)
        from medvision_app.evaluation.settings import tta_flips

        graph = _ProbabilityGraph(net, meta is not None, with_attention, cam, tta_flips(card.tta))
        # With torch 2.14 the TorchScript exporter alters a BatchNorm network's
        # parameters in place (its PyTorch outputs change after the export):
        # export a copy so the check and the caller keep the untouched network.
        data = _to_onnx_bytes(copy.deepcopy(graph), images, meta)
        try:
            diffs = check_against_torch(data, graph, images, meta, tolerance=tolerance)
        except ValueError as exc:
            raise ModelError(out, f"export refused: {exc}") from None
    finally:
        net.train(was_training)
    model = onnx.load_model_from_string(data)
    model.producer_name = "MedVision"
    model.doc_string = f"{card.name}: {card.intended_use}"
    del model.metadata_props[:]
    final = dataclasses.replace(card, graph_sha256=graph_sha256(model))
    card_text = final.to_json()
    card_sha256 = text_sha256(card_text)
    # Signed with this installation's key (made on first export): the provenance "signed".
    signature = sign(final.graph_sha256, card_sha256)
    for key, value in ((CARD_KEY, card_text), (CARD_HASH_KEY, card_sha256), (SIGNATURE_KEY, signature)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    data = canonical_bytes(model)
    verify_bytes(out, data, side_card=False)
    atomic_write_text(card_path_for(out), card_text)
    atomic_write_bytes(out, data)
    return out, diffs
