"""A small ensemble: independently initialised copies of one network, trained side by side.

Each member is a :class:`~medvision_app.networks.model.MedVisionNet` built
from the same :class:`~medvision_app.networks.config.ModelConfig`; they differ
by their random initial weights (and dropout draws), which is where most of a
deep ensemble's gain comes from. Training gives every member its own loss on
the same batch (:meth:`EnsembleNet.member_logits`): the members never see the
ensemble's output, so they do not co-adapt. Prediction averages the members'
probabilities; ``forward`` returns the log of that average, a valid logit
vector, so the loss, temperature scaling, test-time augmentation, the ONNX
export and everything after it treat the ensemble as one network.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import nn

__all__ = ["EnsembleNet", "combine_logits"]


def combine_logits(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Logits whose softmax (or sigmoid, for one BCE logit) is the mean of the members' probabilities."""
    if len(logits) == 1:
        return logits[0]
    if logits[0].shape[1] == 1:
        # one BCE logit per member: average sigmoid probabilities, back to one logit
        p = torch.stack([torch.sigmoid(z) for z in logits]).mean(0)
        return torch.logit(p, eps=1e-7)
    log_probs = torch.stack([torch.log_softmax(z, dim=1) for z in logits])
    return torch.logsumexp(log_probs, dim=0) - math.log(len(logits))


class EnsembleNet(nn.Module):
    """``members`` averaged in probability; the same interface as ``MedVisionNet``.

    Attributes mirror the first member's (all members share one architecture):
    ``name``, ``in_channels``, ``num_classes``, ``gray_to_rgb``,
    ``metadata_features``, ``has_attention``, ``input_mean``, ``input_std``.
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.members = nn.ModuleList(members)
        first = members[0]
        self.name = first.name
        self.in_channels = first.in_channels
        self.num_classes = first.num_classes
        self.gray_to_rgb = getattr(first, "gray_to_rgb", False)
        self.metadata_features = getattr(first, "metadata_features", 0)
        self.has_attention = bool(getattr(first, "has_attention", False))
        self.input_mean = tuple(first.input_mean)
        self.input_std = tuple(first.input_std)

    @property
    def new_layer_lr_factor(self) -> float:
        return float(self.members[0].new_layer_lr_factor)

    @new_layer_lr_factor.setter
    def new_layer_lr_factor(self, value: float) -> None:
        for member in self.members:
            member.new_layer_lr_factor = float(value)

    def member_logits(self, x: torch.Tensor, metadata: Optional[torch.Tensor] = None) -> list[torch.Tensor]:
        """Each member's logits: what training puts a loss on, one per member."""
        return [m(x, metadata) for m in self.members]

    def forward_with_attention(
        self, x: torch.Tensor, metadata: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The ensemble's logits and the members' mean Soft-Attention maps (None without attention)."""
        outs = [m.forward_with_attention(x, metadata) for m in self.members]
        logits = combine_logits([z for z, _ in outs])
        maps = [a for _, a in outs if a is not None]
        return logits, (torch.stack(maps).mean(0) if maps else None)

    def forward(self, x: torch.Tensor, metadata: Optional[torch.Tensor] = None) -> torch.Tensor:
        return combine_logits(self.member_logits(x, metadata))

    def is_new_parameter(self, name: str) -> bool:
        # "members.2.head.classifier.weight" -> the member's own "head.classifier.weight"
        _, index, rest = name.split(".", 2)
        return self.members[int(index)].is_new_parameter(rest)

    def new_parameter_names(self) -> list[str]:
        return [n for n, _ in self.named_parameters() if self.is_new_parameter(n)]

    def parameter_groups(
        self, base_lr: float, weight_decay: float, *, new_layer_lr_factor: Optional[float] = None
    ) -> list[dict]:
        """The members' groups merged by name, so the ensemble has as many groups as one member."""
        merged: dict[str, dict] = {}
        for member in self.members:
            for group in member.parameter_groups(base_lr, weight_decay, new_layer_lr_factor=new_layer_lr_factor):
                if group["name"] in merged:
                    merged[group["name"]]["params"].extend(group["params"])
                else:
                    merged[group["name"]] = dict(group, params=list(group["params"]))
        return list(merged.values())
