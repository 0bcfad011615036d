"""The description a network is built from: a dataclass that round-trips to JSON/TOML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class SearchedArchitecture:
    """The architecture a search designed, for ``name = "genotype"`` or ``"enas"``.

    ``text``: a genotype in the BbNAS paper's notation
    (``C(64,3) P(1,1) IB(32,64,128,16,32,32) P(1,1) F() FC(2)``; the last
    ``FC`` is the classifier and takes the number of classes), or ENAS cells
    as the search prints them (``N[(0,sep3,1,avg3) ...] R[...]``).
    ``layout``, ``channels``, ``nodes``: ENAS only, the cell sequence
    (``["N", "R", "N", "R", "N", "N", "N"]`` for ENAS-7), the stem width and
    the computed nodes per cell.
    """

    text: str = ""
    layout: list[str] = field(default_factory=list)
    channels: int = 24
    nodes: int = 5


@dataclass
class ModelConfig:
    """Which network to build and how.

    ``pretrained`` is explicit: ``"imagenet"`` loads ImageNet weights from
    ``weights_path`` if given, else the local torch hub cache, else fails with
    an error naming the missing weights. ``"none"`` trains from scratch.
    There is never a silent fallback from one to the other.
    """

    name: str = "pnet"
    pretrained: str = "none"  # "none" | "imagenet"
    weights_path: Optional[str] = None
    input_size: int = 224
    in_channels: int = 3
    soft_attention: bool = False
    attention_maps: int = 16  # K, the number of Soft-Attention maps
    metadata: bool = False  # fuse patient metadata (age, sex, site)
    metadata_hidden: int = 32
    dropout: float = 0.5  # the Soft-Attention head's (0.5 in the HAM10000 work); plain heads keep their backbone's
    new_layer_lr_factor: float = 1.0  # the AlexNet/SqueezeNet paper used 20
    # P-NET options (the novel-CNN paper's best: dense 256, dropout 0.2, L2 1e-4)
    dense_units: int = 256
    dense_dropout: float = 0.2  # after P-NET's dense layer; ``dropout`` is the Soft-Attention head's
    architecture: SearchedArchitecture = field(default_factory=SearchedArchitecture)
    # Batch-norm running-statistics momentum for every BN layer (None keeps the
    # backbone's own: EfficientNet-Lite's 0.01 follows its TF weights, which on a
    # few hundred images leaves the running statistics far from the data's).
    bn_momentum: Optional[float] = None
