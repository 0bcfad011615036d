"""One-click starting points: each of the five papers' recipes, as the example config that reproduces it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from medvision_app.utils.config_io import load_config, to_dict
from medvision_app.utils.shipped import data_root

# beside the package in a checkout and the reader build, under PREFIX/share/medvision after pip install
EXAMPLES = data_root() / "examples" / "configs"


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    paper: str
    kind: str  # train or search
    file: str  # in examples/configs

    def config(self) -> dict:
        """The preset's config as a dict, checked by loading it into its dataclass."""
        if self.kind == "search":
            from medvision_app.search.config import SearchConfig as cls
        else:
            from medvision_app.training.config import TrainConfig as cls
        return to_dict(load_config(cls, EXAMPLES / self.file))

    @property
    def path(self) -> Path:
        return EXAMPLES / self.file


PRESETS = (
    Preset("alexnet", "AlexNet / SqueezeNet with contrast stretching (transfer learning)",
           "Transfer learning with AlexNet and SqueezeNet for mammography", "train", "alexnet_adam_mias.toml"),
    Preset("pnet", "P-NET from scratch",
           "A novel CNN architecture for breast cancer detection (P-NET)", "train", "pnet_busi.toml"),
    Preset("enas", "ENAS on ultrasound (SVD preprocessing)",
           "ENAS for breast ultrasound", "search", "search_enas_breastmnist.toml"),
    Preset("soft-attention", "Soft-Attention with metadata and weighted loss",
           "Skin lesion classification with CNN and Soft-Attention", "train", "mobilenetv3_sa_meta_ham10000.toml"),
    Preset("se-bbnas", "SE-BbNAS architecture search",
           "Squeeze-and-Excitation block based NAS with Randomization", "search", "search_se_bbnas_breastmnist.toml"),
)


def preset(key: str) -> Preset:
    for p in PRESETS:
        if p.key == key:
            return p
    raise KeyError(key)
