"""Name -> builder registry, in the manner of torchvision's ``models/_api.py``.

A builder is ``fn(config, num_classes, metadata_features) -> MedVisionNet``;
``@register_model("name")`` adds it. :func:`build_model` validates the
configuration once, for every builder.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from torch import nn

from medvision_app.networks.config import ModelConfig
from medvision_app.networks.model import MedVisionNet
from medvision_app.utils.config_io import ConfigError

__all__ = ["register_model", "build_model", "available_models", "get_model_builder"]

Builder = Callable[[ModelConfig, int, int], MedVisionNet]
B = TypeVar("B", bound=Builder)

_MODELS: dict[str, Builder] = {}

PRETRAINED_CHOICES = ("none", "imagenet")


def register_model(name: str | None = None) -> Callable[[B], B]:
    """Decorator registering a builder under ``name`` (default: the function's name)."""

    def wrapper(fn: B) -> B:
        key = name or fn.__name__
        if key in _MODELS:
            raise ValueError(f"a model is already registered under the name {key!r}")
        _MODELS[key] = fn
        return fn

    return wrapper


def available_models() -> list[str]:
    """Registered architecture names, sorted."""
    return sorted(_MODELS)


def get_model_builder(name: str) -> Builder:
    try:
        return _MODELS[name]
    except KeyError:
        raise ConfigError(f"model.name: unknown model {name!r}; available: {', '.join(available_models())}") from None


def _validate(config: ModelConfig, num_classes: int, metadata_features: int) -> None:
    if config.pretrained not in PRETRAINED_CHOICES:
        raise ConfigError(f"model.pretrained: {config.pretrained!r} is not one of {', '.join(PRETRAINED_CHOICES)}")
    if config.weights_path and config.pretrained == "none":
        raise ConfigError(
            f'model.weights_path: {config.weights_path!r} is given but model.pretrained is "none"; '
            'set model.pretrained = "imagenet" to load it, or remove the path'
        )
    if config.in_channels not in (1, 3):
        raise ConfigError(f"model.in_channels: must be 1 or 3, got {config.in_channels!r}")
    if int(num_classes) != num_classes or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}")
    if config.soft_attention and config.attention_maps < 1:
        raise ConfigError(f"model.attention_maps: must be at least 1, got {config.attention_maps!r}")
    if not 0.0 <= config.dropout < 1.0:
        raise ConfigError(f"model.dropout: must be in [0, 1), got {config.dropout!r}")
    if config.metadata and metadata_features < 1:
        raise ConfigError("model.metadata: is on but the data provide no metadata features (metadata_features = 0)")
    if config.metadata and config.metadata_hidden < 1:
        raise ConfigError(f"model.metadata_hidden: must be at least 1, got {config.metadata_hidden!r}")
    if config.bn_momentum is not None and not 0.0 < config.bn_momentum <= 1.0:
        raise ConfigError(f"model.bn_momentum: must be in (0, 1], got {config.bn_momentum!r}")
    if not 1 <= config.ensemble <= 8:
        raise ConfigError(f"model.ensemble: must be between 1 and 8 members, got {config.ensemble!r}")
    if config.input_size < 1:
        raise ConfigError(f"model.input_size: must be positive, got {config.input_size!r}")


def build_model(config: ModelConfig, num_classes: int, metadata_features: int = 0) -> nn.Module:
    """Build the network ``config.name`` with a new ``num_classes`` output.

    A :class:`~medvision_app.networks.model.MedVisionNet`, or with
    ``config.ensemble`` > 1 an :class:`~medvision_app.networks.ensemble.EnsembleNet`
    of that many of them.

    The metadata branch is built when ``config.metadata`` is on; it then
    needs ``metadata_features`` > 0. With ``config.metadata`` off,
    ``metadata_features`` is ignored and so is the metadata passed to
    ``forward``.

    Raises
    ------
    ConfigError
        For an unknown name or an invalid value (the message names the key).
    WeightsNotFoundError
        When ``config.pretrained == "imagenet"`` and no weights file exists.
    """
    builder = get_model_builder(config.name)
    _validate(config, num_classes, metadata_features)
    meta = int(metadata_features) if config.metadata else 0
    if config.ensemble > 1:
        from medvision_app.networks.ensemble import EnsembleNet

        # built one after the other from one seeded generator: each member draws its own initial weights
        model = EnsembleNet([builder(config, int(num_classes), meta) for _ in range(config.ensemble)])
    else:
        model = builder(config, int(num_classes), meta)
    model.new_layer_lr_factor = float(config.new_layer_lr_factor)
    if config.bn_momentum is not None:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.momentum = float(config.bn_momentum)
    return model


# The built-in architectures register themselves on import.
from medvision_app.networks import backbones as _backbones  # noqa: E402,F401
from medvision_app.networks import searched as _searched  # noqa: E402,F401
