"""Networks a search designed, as registered models: ``"genotype"`` (BbNAS, SE-BbNAS) and ``"enas"``.

Registering them makes a search's retrained model an ordinary run: the run
folder's ``config.json`` holds the architecture in ``model.architecture``,
and ``medvision evaluate``, ``export``, Grad-CAM and the Soft-Attention head
work on it as on any backbone. The networks are cut the way
:class:`~medvision_app.networks.model.MedVisionNet` wants: the feature maps
(a genotype's layers before ``F()``; ENAS's stem and cells), a neck (``F()``
and any hidden ``FC``; ENAS's global pooling) and a new classifier in place
of the genotype's last ``FC``.

The genotype grammar, its builder and the ENAS cell space live in this
package (``genotype``, ``builder``, ``enas_space``): the search package builds
on the networks package, never the other way round (an import-linter contract).
"""

from __future__ import annotations

from torch import nn

from medvision_app.networks.backbones import Parts, _assemble, _gap
from medvision_app.networks.builder import GenotypeNet, InvalidGenotype, analyse
from medvision_app.networks.config import ModelConfig
from medvision_app.networks.enas_space import Arc, CellNetwork
from medvision_app.networks.genotype import FC, GenotypeError, parse
from medvision_app.networks.model import MedVisionNet
from medvision_app.networks.registry import register_model
from medvision_app.networks.weights import WeightsError
from medvision_app.utils.config_io import ConfigError


def _from_scratch(config: ModelConfig) -> None:
    if config.pretrained != "none":
        raise WeightsError(
            f'{config.name}: a searched architecture has no pretrained weights; set model.pretrained = "none"'
        )


def _identity_normalization(channels: int) -> dict:
    # Searches train on pixels scaled to [0, 1] and nothing else.
    return {"mean": (0.0,) * channels, "std": (1.0,) * channels}


@register_model("genotype")
def genotype(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    _from_scratch(config)
    text = config.architecture.text
    if not text.strip():
        raise ConfigError('model.architecture.text: give the genotype, e.g. "C(64,3) P(1,1) IB(32,64,128,16,32,32) '
                          'P(1,1) F() FC(2)"')
    try:
        layers = parse(text)
        if layers[-1].kind != "FC" or "F" not in [layer.kind for layer in layers]:
            raise InvalidGenotype(f"{text}: must end with F() ... FC(classes)")
        layers = layers[:-1] + (FC(num_classes),)
        shape = (config.in_channels, config.input_size, config.input_size)
        rows = analyse(layers, shape)
    except (GenotypeError, InvalidGenotype) as exc:
        raise ConfigError(f"model.architecture.text: {exc}") from None
    flatten = [layer.kind for layer in layers].index("F")
    neck: list[nn.Module] = [nn.Flatten(1)]
    for i in range(flatten + 1, len(layers) - 1):
        neck += [nn.Linear(rows[i - 1][0].channels, layers[i].args[0]), nn.ReLU(inplace=True)]
    parts = Parts(
        GenotypeNet(layers, shape, upto=flatten), rows[flatten - 1][0].channels, nn.Sequential(*neck),
        rows[-2][0].channels, gray_to_rgb=False, **_identity_normalization(config.in_channels),
    )
    return _assemble(config, num_classes, metadata_features, parts)


class _CellFeatures(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.forward_features(x)


@register_model("enas")
def enas(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    _from_scratch(config)
    arch = config.architecture
    try:
        arc = Arc.parse(arch.text)
        if not arch.layout:
            raise ValueError('layout is empty; ENAS-7 is ["N", "R", "N", "R", "N", "N", "N"]')
        if len(arc.normal) != arch.nodes:
            raise ValueError(f"the cells have {len(arc.normal)} nodes, nodes = {arch.nodes}")
        net = CellNetwork(arch.layout, config.in_channels, 0, arch.channels, arch.nodes, arc=arc)
    except ValueError as exc:
        raise ConfigError(f"model.architecture: {exc}") from None
    parts = Parts(_CellFeatures(net), net.out_channels, _gap(), net.out_channels, gray_to_rgb=False,
                  **_identity_normalization(config.in_channels))
    return _assemble(config, num_classes, metadata_features, parts)


def load_search_weights(model: nn.Module, state: dict) -> None:
    """Load into a registered ``"genotype"`` model the weights a search trained for the same genotype.

    The search trains the builder's whole ``GenotypeNet`` (``layers.N.*``);
    the registered model splits the same layers into features, neck and
    head. Both hold the same tensors in the same order, so they are copied by
    position, after checking that every shape matches (ValueError naming the
    first mismatch otherwise: never a partial load).
    """
    target = model.state_dict()
    ours = [k for k in target if not k.endswith("num_batches_tracked")]
    theirs = [k for k in state if not k.endswith("num_batches_tracked")]
    if len(ours) != len(theirs):
        raise ValueError(f"the search's weights hold {len(theirs)} tensors, the network {len(ours)}")
    for mine, other in zip(ours, theirs, strict=True):
        if tuple(target[mine].shape) != tuple(state[other].shape):
            raise ValueError(f"{other} {tuple(state[other].shape)} does not fit {mine} {tuple(target[mine].shape)}")
    model.load_state_dict({**target, **{mine: state[other] for mine, other in zip(ours, theirs, strict=True)}})
