"""The description a network is built from: a dataclass that round-trips to JSON/TOML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from medvision_app.utils.config_schema import option


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

    # The network names live in the registry, which imports torch; build_model checks them.
    name: str = option("pnet", help="Network from the registry: pnet, alexnet, squeezenet1_1, mobilenet_v3_large, "
                       "efficientnet_lite0, resnet50, genotype, enas, ...")
    pretrained: Literal["none", "imagenet"] = option("none", help="imagenet loads ImageNet weights (never "
                                                     "silently replaced); none trains from scratch.")
    weights_path: Optional[str] = option(None, help="File of the pretrained weights (empty: the torch hub cache).",
                                         path="file")
    input_size: int = option(224, help="Images are resized to this square size.", range=(8, 4096), unit="pixels")
    in_channels: int = option(3, help="Input channels the network takes (1 grey or 3 colour).", range=(1, 4))
    soft_attention: bool = option(False, help="Add the Soft-Attention head.")
    attention_maps: int = option(16, help="K, the number of Soft-Attention maps.", range=(1, 512),
                                 when={"soft_attention": (True,)})
    metadata: bool = option(False, help="Fuse patient metadata (age, sex, site) with the image features.")
    metadata_hidden: int = option(32, help="Width of the metadata branch.", range=(1, 4096), unit="units",
                                  when={"metadata": (True,)})
    dropout: float = option(0.5, help="Dropout of the Soft-Attention head (0.5 in the HAM10000 work).",
                            range=(0.0, 0.99), when={"soft_attention": (True,)})
    new_layer_lr_factor: float = option(1.0, help="Learning-rate multiplier of newly added layers (20 in the "
                                        "AlexNet/SqueezeNet paper).", range=(0.0, 1000.0))
    # P-NET options (the novel-CNN paper's best: dense 256, dropout 0.2, L2 1e-4)
    dense_units: int = option(256, help="P-NET's dense layer width.", range=(1, 65_536), unit="units",
                              when={"name": ("pnet",)})
    dense_dropout: float = option(0.2, help="Dropout after P-NET's dense layer.", range=(0.0, 0.99),
                                  when={"name": ("pnet",)})
    architecture: SearchedArchitecture = option(help="The architecture a search designed (genotype and enas).",
                                                default_factory=SearchedArchitecture,
                                                when={"name": ("genotype", "enas")})
    # Batch-norm running-statistics momentum for every BN layer (None keeps the
    # backbone's own: EfficientNet-Lite's 0.01 follows its TF weights, which on a
    # few hundred images leaves the running statistics far from the data's).
    bn_momentum: Optional[float] = option(None, help="Batch-norm momentum of every layer (empty: the "
                                          "backbone's own).", range=(0.0, 1.0))
    ensemble: int = option(1, help="Independently initialised copies of the network trained side by side, each "
                           "on its own loss; predictions average their probabilities (1: a single network).",
                           range=(1, 8), unit="members")
