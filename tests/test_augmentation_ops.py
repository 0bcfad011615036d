"""Augmentation: seeded, serialisable, and doing what each setting says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import ROOT

from medvision_app.augmentation import (
    AugmentationConfig,
    RotationConfig,
    SvdConfig,
    TranslationConfig,
    build_augmenter,
    montage,
    preview,
)
from medvision_app.preprocessing import svd_reconstruct
from medvision_app.utils.config_io import ConfigError, load_config, save_config


def pattern() -> np.ndarray:
    image = np.zeros((40, 60), np.float32)
    image[5:15, 5:25] = 1.0  # an off-centre block, so flips and shifts show
    return image


def test_identity_by_default():
    out = build_augmenter(AugmentationConfig())(pattern(), 0)
    np.testing.assert_allclose(out, pattern())


def test_a_config_that_transforms_nothing_says_so_whatever_its_note():
    assert AugmentationConfig().is_identity and AugmentationConfig(description="none, as the paper").is_identity
    assert not AugmentationConfig(horizontal_flip=0.5).is_identity
    assert not AugmentationConfig(rotation=RotationConfig(probability=1.0, degrees=(-10.0, 10.0))).is_identity


def test_certain_flip_and_inversion():
    image = pattern()
    flipped = build_augmenter(AugmentationConfig(horizontal_flip=1.0))(image, 0)
    np.testing.assert_allclose(flipped, image[:, ::-1])
    inverted = build_augmenter(AugmentationConfig(invert=1.0))(image, 0)
    np.testing.assert_allclose(inverted, 1.0 - image)


def test_rotation_from_a_set_of_right_angles():
    config = AugmentationConfig(rotation=RotationConfig(probability=1.0, choices=[180.0]))
    out = build_augmenter(config)(pattern(), 3)
    np.testing.assert_allclose(out, pattern()[::-1, ::-1], atol=1e-5)


def test_translation_moves_the_block():
    config = AugmentationConfig(translation=TranslationConfig(probability=1.0, pixels=10))
    outs = [build_augmenter(config)(pattern(), seed) for seed in range(5)]
    centres = [np.argwhere(o > 0.5).mean(axis=0) for o in outs]
    shifts = [np.abs(c - np.argwhere(pattern() > 0.5).mean(axis=0)).max() for c in centres]
    assert max(shifts) > 1 and max(shifts) <= 10.5


def test_svd_rank_drawn_from_the_set():
    rng = np.random.default_rng(0)
    image = rng.random((48, 48)).astype(np.float32)
    out = build_augmenter(AugmentationConfig(svd=SvdConfig(probability=1.0, ranks=[5])))(image, 0)
    np.testing.assert_allclose(out, svd_reconstruct(image, 5), atol=1e-6)
    assert not np.allclose(out, image, atol=0.05)


def test_preview_is_deterministic_per_seed():
    config = AugmentationConfig(rotation=RotationConfig(probability=1.0, degrees=(-90.0, 90.0)), horizontal_flip=0.5)
    a = preview(pattern(), config, n=9, seed=7)
    b = preview(pattern(), config, n=9, seed=7)
    c = preview(pattern(), config, n=9, seed=8)
    assert len(a) == 9 and all(np.array_equal(x, y) for x, y in zip(a, b, strict=False))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=False))
    assert len({x.tobytes() for x in a}) > 1  # the variants differ from one another
    grid = montage(a)
    assert grid.dtype == np.uint8 and grid.shape == (3 * 40 + 8, 3 * 60 + 8)


def test_torch_generator_drives_it_reproducibly():
    config = AugmentationConfig(rotation=RotationConfig(probability=1.0, degrees=(0.0, 360.0)))
    augment = build_augmenter(config)
    one = augment(pattern(), torch.Generator().manual_seed(3))
    two = augment(pattern(), torch.Generator().manual_seed(3))
    np.testing.assert_array_equal(one, two)


def test_bad_settings_are_named(tmp_path):
    with pytest.raises(ValueError, match="rotation: probability"):
        RotationConfig(probability=2.0)
    (tmp_path / "a.toml").write_text("horizontal_flip = 0.5\n[zoom]\namount = 1.5\n")
    with pytest.raises(ConfigError, match="zoom"):
        load_config(AugmentationConfig, tmp_path / "a.toml")


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "configs").glob("augment_*.toml")), ids=lambda p: p.name)
def test_example_configs_round_trip(tmp_path, path):
    config = load_config(AugmentationConfig, path)
    save_config(config, tmp_path / "copy.json")
    assert load_config(AugmentationConfig, tmp_path / "copy.json") == config
    assert preview(pattern(), config, n=2, seed=0)[0].shape == pattern().shape
