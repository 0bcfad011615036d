"""Networks: building blocks, P-NET, pretrained backbones, Soft-Attention and metadata fusion.

The one entry point for the rest of MedVision is
``build_model(config, num_classes, metadata_features=0) -> MedVisionNet``.
"""

from medvision_app.networks.attention import SoftAttention, SoftAttentionHead
from medvision_app.networks.blocks import DepthwiseResidualBlock, InceptionBlock, SEInceptionBlock, SqueezeExcitation
from medvision_app.networks.complexity import count_flops, count_parameters
from medvision_app.networks.config import ModelConfig, SearchedArchitecture
from medvision_app.networks.model import MedVisionNet
from medvision_app.networks.registry import available_models, build_model, register_model
from medvision_app.networks.weights import WeightsError, WeightsNotFoundError

__all__ = [
    "SearchedArchitecture",
    "DepthwiseResidualBlock",
    "InceptionBlock",
    "MedVisionNet",
    "ModelConfig",
    "SEInceptionBlock",
    "SoftAttention",
    "SoftAttentionHead",
    "SqueezeExcitation",
    "WeightsError",
    "WeightsNotFoundError",
    "available_models",
    "build_model",
    "count_flops",
    "count_parameters",
    "register_model",
]
