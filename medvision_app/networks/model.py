"""MedVisionNet: features -> neck -> head, with an optional metadata branch.

Every network MedVision trains is this one container, so the trainer, the
ONNX export and the explainers talk to one interface whatever the backbone:

- ``features``: the (usually pretrained) extractor, N x 3 x H x W -> N x C x h x w;
- ``neck``: what turns the map into a vector for a plain classifier (global
  pooling, plus the backbone's own pretrained dense layers where it has them);
  the identity when the head works on the map itself;
- ``head``: a new :class:`ClassifierHead`, :class:`ConvClassifierHead` or
  :class:`~medvision_app.networks.attention.SoftAttentionHead`;
- ``metadata``: an optional :class:`MetadataBranch` whose output is
  concatenated with the image features before the classifier.

``head`` and ``metadata`` are the "new layers" that get the learning-rate
multiplier when fine-tuning a pretrained backbone.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from medvision_app.networks.attention import SoftAttentionHead

__all__ = ["MedVisionNet", "ClassifierHead", "ConvClassifierHead", "MetadataBranch", "NEW_LAYER_PREFIXES"]

NEW_LAYER_PREFIXES = ("head.", "metadata.")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class MetadataBranch(nn.Module):
    """Dense layer + ReLU on the metadata vector (age, sex and site one-hot...)."""

    def __init__(self, in_features: int, hidden: int) -> None:
        super().__init__()
        if in_features < 1 or hidden < 1:
            raise ValueError(f"metadata branch needs positive sizes, got in_features={in_features}, hidden={hidden}")
        self.in_features = in_features
        self.out_features = hidden
        self.fc = nn.Linear(in_features, hidden)
        self.relu = nn.ReLU()

    def forward(self, metadata: torch.Tensor) -> torch.Tensor:
        return self.relu(self.fc(metadata))


class ClassifierHead(nn.Module):
    """New linear classifier on a feature vector, after optional dropout and metadata concatenation.

    ``forward(v, extra=None) -> (logits, None)``.
    """

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.0, extra_features: int = 0) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.extra_features = extra_features
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_features + extra_features, num_classes)

    def forward(self, v: torch.Tensor, extra: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, None]:
        v = self.dropout(v)
        if self.extra_features:
            v = torch.cat([v, extra], dim=1)
        return self.classifier(v), None


class ConvClassifierHead(nn.Module):
    """SqueezeNet's classifier with a new 1x1 convolution: dropout, conv to classes, ReLU, average pool.

    ``forward(t, extra=None) -> (logits, None)``; takes no metadata.
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.extra_features = 0
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Conv2d(in_channels, num_classes, 1)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, t: torch.Tensor, extra: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, None]:
        return self.pool(self.relu(self.classifier(self.dropout(t)))).flatten(1), None


class MedVisionNet(nn.Module):
    """A classifier built by :func:`medvision_app.networks.build_model`.

    Attributes
    ----------
    name : str
        Registry name of the architecture.
    in_channels : int
        Channels the model accepts (1 or 3).
    num_classes : int
    metadata_features : int
        Length of the metadata vector ``forward`` expects (0: none).
    has_attention : bool
        True when the head is Soft-Attention; ``forward_with_attention`` then returns maps.
    input_mean, input_std : tuple of float
        Per-channel normalisation the weights expect on inputs in [0, 1].
    new_layer_lr_factor : float
        Learning-rate multiplier of the new layers in :meth:`parameter_groups`.
    """

    def __init__(
        self,
        name: str,
        features: nn.Module,
        neck: nn.Module,
        head: nn.Module,
        *,
        num_classes: int,
        in_channels: int = 3,
        gray_to_rgb: bool = False,
        metadata: Optional[MetadataBranch] = None,
        input_mean: tuple[float, ...] = IMAGENET_MEAN,
        input_std: tuple[float, ...] = IMAGENET_STD,
        new_layer_lr_factor: float = 1.0,
    ) -> None:
        super().__init__()
        self.name = name
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.gray_to_rgb = gray_to_rgb
        self.features = features
        self.neck = neck
        self.head = head
        self.metadata = metadata
        self.metadata_features = metadata.in_features if metadata is not None else 0
        self.has_attention = isinstance(head, SoftAttentionHead)
        self.input_mean = tuple(input_mean)
        self.input_std = tuple(input_std)
        self.new_layer_lr_factor = float(new_layer_lr_factor)

    def forward_with_attention(
        self, x: torch.Tensor, metadata: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Logits (N x num_classes) and the Soft-Attention maps (N x K x h x w), or None without attention.

        ``metadata`` (N x metadata_features) is required when the model has a
        metadata branch and ignored otherwise.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected input N x {self.in_channels} x H x W, got shape {tuple(x.shape)}")
        if self.gray_to_rgb:
            x = x.expand(-1, 3, -1, -1)
        extra = None
        if self.metadata is not None:
            if metadata is None:
                raise ValueError(
                    f"model {self.name!r} has a metadata branch: pass a N x {self.metadata_features} metadata tensor"
                )
            if metadata.dim() != 2 or metadata.shape[1] != self.metadata_features:
                raise ValueError(f"expected metadata N x {self.metadata_features}, got shape {tuple(metadata.shape)}")
            extra = self.metadata(metadata.to(x.dtype))
        fmap = self.features(x)  # N x C x h x w
        return self.head(self.neck(fmap), extra)

    def forward(self, x: torch.Tensor, metadata: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.forward_with_attention(x, metadata)[0]

    def is_new_parameter(self, name: str) -> bool:
        """True for parameters of the new layers (head, classifier, attention, metadata branch)."""
        return name.startswith(NEW_LAYER_PREFIXES)

    def new_parameter_names(self) -> list[str]:
        return [n for n, _ in self.named_parameters() if self.is_new_parameter(n)]

    def parameter_groups(
        self, base_lr: float, weight_decay: float, *, new_layer_lr_factor: Optional[float] = None
    ) -> list[dict]:
        """Parameter groups for a torch optimiser.

        New layers get ``base_lr * new_layer_lr_factor`` (the factor given at
        build time from ``ModelConfig.new_layer_lr_factor`` unless overridden).
        Weight decay (the L2 penalty) applies to conv and linear weights only:
        biases, batch-norm affine parameters and scalars such as the
        Soft-Attention gamma (every parameter with fewer than 2 dimensions)
        get none. Empty groups are left out; each group has a ``name``.
        """
        if base_lr <= 0:
            raise ValueError(f"base_lr must be positive, got {base_lr!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        factor = self.new_layer_lr_factor if new_layer_lr_factor is None else new_layer_lr_factor
        buckets: dict[tuple[bool, bool], list[nn.Parameter]] = {}
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            key = (self.is_new_parameter(name), param.dim() >= 2)
            buckets.setdefault(key, []).append(param)
        groups = []
        for (new, decay), params in sorted(buckets.items()):
            groups.append(
                {
                    "params": params,
                    "lr": base_lr * (factor if new else 1.0),
                    "weight_decay": weight_decay if decay else 0.0,
                    "name": f"{'new' if new else 'base'}_{'decay' if decay else 'no_decay'}",
                }
            )
        return groups
