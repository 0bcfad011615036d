"""The registered architectures: torchvision backbones, EfficientNet-Lite0 and P-NET.

Each builder cuts its network into ``features`` (a map N x C x h x w), a
``neck`` (the pretrained layers between the map and the old classifier) and
replaces the classifier with a new one. With ``soft_attention`` the
Soft-Attention head takes the place of the last blocks, pooling and
classifier, as in the HAM10000 work:

- ResNet50/152: the last stage (``layer4``, its three residual blocks) is cut;
  attention runs on ``layer3`` (1024 x 14 x 14 at 224);
- MobileNetV2 and EfficientNet-Lite0: the last 1x1 convolution is cut;
  attention runs on the 320-channel map;
- MobileNetV3: the two 1x1 "convolutions" after pooling (the classifier) are
  replaced; attention runs on the last map (576 / 960 channels);
- DenseNet201: attention on the final map (1920 channels);
- AlexNet: attention before the last max-pool (256 x 13 x 13 at 224);
- SqueezeNet 1.1 and P-NET: attention on the last map.

Grayscale input (``in_channels = 1``) is repeated to three channels for the
ImageNet architectures; P-NET builds its first convolution for one channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from medvision_app.networks.attention import SoftAttentionHead
from medvision_app.networks.config import ModelConfig
from medvision_app.networks.efficientnet_lite import EfficientNetLite0, LiteFeatures
from medvision_app.networks.model import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClassifierHead,
    ConvClassifierHead,
    MedVisionNet,
    MetadataBranch,
)
from medvision_app.networks.pnet import PNetFeatures, PNetNeck
from medvision_app.networks.registry import register_model
from medvision_app.networks.weights import WeightsError, find_weights, load_into
from medvision_app.utils.config_io import ConfigError

__all__ = ["Parts"]


@dataclass
class Parts:
    """A backbone cut for MedVision: see the module docstring."""

    features: nn.Module
    channels: int
    neck: nn.Module
    neck_dim: int
    dropout: float = 0.0  # before the new classifier, as the original classifier had
    conv_head: bool = False  # SqueezeNet: a new 1x1 conv classifier when there is no metadata
    gray_to_rgb: bool = True
    mean: tuple[float, ...] = field(default=IMAGENET_MEAN)
    std: tuple[float, ...] = field(default=IMAGENET_STD)


def _gap() -> nn.Sequential:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


def _assemble(config: ModelConfig, num_classes: int, metadata_features: int, parts: Parts) -> MedVisionNet:
    metadata = MetadataBranch(metadata_features, config.metadata_hidden) if metadata_features else None
    extra = metadata.out_features if metadata is not None else 0
    neck: nn.Module = nn.Identity()
    if config.soft_attention:
        head: nn.Module = SoftAttentionHead(parts.channels, num_classes, config.attention_maps, config.dropout, extra)
    elif parts.conv_head and metadata is None:
        head = ConvClassifierHead(parts.channels, num_classes, parts.dropout)
    else:
        head = ClassifierHead(parts.neck_dim, num_classes, parts.dropout, extra)
        neck = parts.neck
    return MedVisionNet(
        config.name,
        parts.features,
        neck,
        head,
        num_classes=num_classes,
        in_channels=config.in_channels,
        gray_to_rgb=parts.gray_to_rgb and config.in_channels == 1,
        metadata=metadata,
        input_mean=parts.mean,
        input_std=parts.std,
    )


def _torchvision(name: str, config: ModelConfig) -> nn.Module:
    import torchvision.models

    # weights=None: torchvision must never reach for the network; weights come from weights.py.
    model = getattr(torchvision.models, name)(weights=None)
    if config.pretrained == "imagenet":
        load_into(model, find_weights(name, config.weights_path), name)
    return model


def _alexnet_parts(m: nn.Module, attention: bool) -> Parts:
    if attention:
        return Parts(m.features[:-1], 256, nn.Identity(), 256)
    # fc6 and fc7 stay (pretrained); fc8 is the new layer
    neck = nn.Sequential(m.avgpool, nn.Flatten(1), *list(m.classifier.children())[:-1])
    return Parts(m.features, 256, neck, 4096)


def _squeezenet_parts(m: nn.Module, attention: bool) -> Parts:
    return Parts(m.features, 512, _gap(), 512, dropout=0.5, conv_head=True)


def _mobilenet_v2_parts(m: nn.Module, attention: bool) -> Parts:
    if attention:
        return Parts(m.features[:-1], 320, nn.Identity(), 320)
    return Parts(m.features, 1280, _gap(), 1280, dropout=0.2)


def _mobilenet_v3_parts(m: nn.Module, attention: bool) -> Parts:
    channels = m.classifier[0].in_features
    hidden = m.classifier[0].out_features
    neck = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), m.classifier[0], m.classifier[1])
    return Parts(m.features, channels, neck, hidden, dropout=0.2)


def _resnet_parts(m: nn.Module, attention: bool) -> Parts:
    stages = [m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3]
    if attention:
        return Parts(nn.Sequential(*stages), m.layer3[-1].conv3.out_channels, nn.Identity(), 0)
    return Parts(nn.Sequential(*stages, m.layer4), m.fc.in_features, _gap(), m.fc.in_features)


def _densenet_parts(m: nn.Module, attention: bool) -> Parts:
    # torchvision applies ReLU after ``features`` in forward(), not inside it
    features = nn.Sequential(m.features, nn.ReLU(inplace=False))
    return Parts(features, m.classifier.in_features, _gap(), m.classifier.in_features)


def _build_torchvision(config: ModelConfig, num_classes: int, metadata_features: int, cut) -> MedVisionNet:
    model = _torchvision(config.name, config)
    return _assemble(config, num_classes, metadata_features, cut(model, config.soft_attention))


@register_model("alexnet")
def alexnet(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    return _build_torchvision(config, num_classes, metadata_features, _alexnet_parts)


@register_model("squeezenet1_1")
def squeezenet1_1(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    return _build_torchvision(config, num_classes, metadata_features, _squeezenet_parts)


@register_model("mobilenet_v2")
def mobilenet_v2(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    return _build_torchvision(config, num_classes, metadata_features, _mobilenet_v2_parts)


@register_model("mobilenet_v3_small")
def mobilenet_v3_small(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    return _build_torchvision(config, num_classes, metadata_features, _mobilenet_v3_parts)


@register_model("mobilenet_v3_large")
def mobilenet_v3_large(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    return _build_torchvision(config, num_classes, metadata_features, _mobilenet_v3_parts)


@register_model("resnet50")
def resnet50(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    return _build_torchvision(config, num_classes, metadata_features, _resnet_parts)


@register_model("resnet152")
def resnet152(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    return _build_torchvision(config, num_classes, metadata_features, _resnet_parts)


@register_model("densenet201")
def densenet201(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    return _build_torchvision(config, num_classes, metadata_features, _densenet_parts)


@register_model("efficientnet_lite0")
def efficientnet_lite0(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    model = EfficientNetLite0()
    if config.pretrained == "imagenet":
        load_into(model, find_weights("efficientnet_lite0", config.weights_path), "efficientnet_lite0")
    features = LiteFeatures(model, include_head=not config.soft_attention)
    # TensorFlow's Lite preprocessing: (x - 127) / 128, i.e. [0, 1] mapped to about [-1, 1]
    parts = Parts(features, features.out_channels, _gap(), 1280, dropout=0.2, mean=(0.5,) * 3, std=(0.5,) * 3)
    return _assemble(config, num_classes, metadata_features, parts)


@register_model("pnet")
def pnet(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> MedVisionNet:
    if config.pretrained != "none":
        raise WeightsError(
            'pnet: P-NET is trained from scratch and has no pretrained weights; set model.pretrained = "none"'
        )
    try:
        features = PNetFeatures(config.in_channels, config.input_size)
        neck = PNetNeck(features.out_channels, config.dense_units, config.dense_dropout)
    except ValueError as exc:
        raise ConfigError(f"model: {exc}") from None
    parts = Parts(features, features.out_channels, neck, neck.out_features, gray_to_rgb=False)
    return _assemble(config, num_classes, metadata_features, parts)
