"""Preprocessing: pure image functions, the pipeline config and its geometry."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import DATA, ROOT
from skimage import exposure

from medvision_app.preprocessing import (
    PipelineConfig,
    StepConfig,
    apply_pipeline,
    clahe,
    contrast_stretch,
    crop_foreground,
    equalize_hist,
    get_op,
    invert,
    normalize,
    op_names,
    percentile_stretch,
    resize,
    svd_reconstruct,
)
from medvision_app.utils.config_io import ConfigError, load_config, save_config


@pytest.fixture(scope="module")
def ultrasound() -> np.ndarray:
    path = DATA / "busi-256" / "benign" / "benign (1).png"
    if not path.is_file():
        pytest.skip(f"{path} is absent (a fresh clone has no ../shared)")
    from medvision_app.imaging import open_image

    return open_image(path).display_float()


def test_contrast_stretch_maps_min_and_max_exactly():
    image = np.array([[100, 200], [300, 1100]], dtype=np.uint16)
    out = contrast_stretch(image, out_max=255)
    assert out.dtype == np.float32 and out.min() == 0 and out.max() == 255
    np.testing.assert_allclose(out, (image - 100) / 1000 * 255, rtol=1e-6)
    assert image[0, 0] == 100  # input untouched


def test_percentile_stretch_ignores_an_outlier():
    rng = np.random.default_rng(1)
    image = rng.normal(1000, 50, (200, 200)).astype(np.float32)
    image[0, 0] = 60000  # a burnt-in marker
    plain = contrast_stretch(image)
    robust = percentile_stretch(image, low=1, high=99)
    assert plain[1:, 1:].std() < 0.01  # the outlier squashed everything else
    assert robust[1:, 1:].std() > 0.2
    with pytest.raises(ValueError, match="low=99"):
        percentile_stretch(image, low=99, high=1)


def test_equalize_and_clahe_agree_with_scikit_image(ultrasound):
    ours = clahe(ultrasound, clip_limit=0.01)
    reference = exposure.equalize_adapthist(ultrasound, clip_limit=0.01)
    assert ours.dtype == np.float32 and ours.shape == ultrasound.shape
    assert np.abs(ours - reference).mean() < 0.02
    eq = equalize_hist(ultrasound)
    # Equalised intensities are close to uniform: the median lands near 0.5.
    assert 0.4 < np.median(eq) < 0.6


def test_invert_dtype_and_image_range():
    image = np.array([[0, 10], [20, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(invert(image), 255 - image)
    np.testing.assert_allclose(invert(np.float32([[0.25, 1.0]])), [[0.75, 0.0]])


def test_svd_full_rank_reproduces_and_low_rank_has_rank_k(ultrasound):
    full = svd_reconstruct(ultrasound, k=10_000, clip=False)
    np.testing.assert_allclose(full, ultrasound, atol=1e-4)
    low = svd_reconstruct(ultrasound, k=25, clip=False)
    assert np.linalg.matrix_rank(low.astype(np.float64), tol=1e-3) == 25
    assert np.abs(low - ultrasound).mean() > 0.005  # speckle removed


def test_resize_pad_geometry_round_trips_points():
    image = np.random.default_rng(0).random((100, 200)).astype(np.float32)
    out, geometry = resize(image, (64, 64), mode="pad")
    assert out.shape == (64, 64)
    assert geometry.padding[0] == pytest.approx(16) and geometry.padding[2] == pytest.approx(16)
    points = np.array([[0.0, 0.0], [50.0, 100.0], [99.0, 199.0]])
    np.testing.assert_allclose(geometry.to_original_points(geometry.to_output_points(points)), points, atol=1e-9)
    stretched, g2 = resize(image, (50, 50), mode="stretch")
    assert stretched.shape == (50, 50) and g2.scale == (0.5, 0.25)


def test_crop_foreground_finds_the_bright_region():
    image = np.zeros((300, 400), np.float32)
    image[50:250, 0:150] = 0.8  # a "breast" against the left edge
    image[10:14, 380:390] = 1.0  # a small label
    out, geometry = crop_foreground(image, margin=0.0)
    top, left, bottom, right = geometry.crop_box
    assert (top, left) == (50, 0) and 240 <= bottom <= 260 and 140 <= right <= 160
    assert out.shape == (int(bottom - top), int(right - left))


@pytest.mark.parametrize("convention,lo,hi", [("unit", 0, 1), ("symmetric", -1, 1)])
def test_normalize_conventions(convention, lo, hi):
    out = normalize(np.float32([[0.0, 1.0]]), convention)
    np.testing.assert_allclose(out, [[lo, hi]])
    rgb = normalize(np.full((2, 2, 3), 0.485, np.float32), "imagenet")
    assert abs(rgb[0, 0, 0]) < 1e-6


def test_pipeline_runs_in_order_and_maps_heatmaps_back():
    image = np.zeros((200, 100), np.float32)
    image[:, :50] = np.linspace(0.2, 0.6, 200)[:, None]
    config = PipelineConfig(steps=[
        StepConfig("contrast_stretch"),
        StepConfig("resize", {"height": 64, "width": 64, "mode": "pad"}),
    ])
    out, geometry = apply_pipeline(image, config)
    assert out.shape == (64, 64) and out.max() == pytest.approx(1.0, abs=1e-3)
    # A heatmap lit where the image is bright comes back over the bright half.
    back = geometry.to_original(out, image.shape)
    assert back[:, :45].mean() > 0.3 and back[:, 55:].mean() < 0.05


def test_pipeline_errors_name_the_step():
    with pytest.raises(ConfigError, match=r"step 2 \(resize\): unknown parameter\(s\) size"):
        PipelineConfig(steps=[StepConfig("invert"), StepConfig("resize", {"size": 3})])
    with pytest.raises(ConfigError, match=r"step 1 \(sharpen\)"):
        PipelineConfig(steps=[StepConfig("sharpen")])


def test_every_op_has_a_parameter_spec_the_gui_can_build_from():
    names = op_names()
    assert {"contrast_stretch", "percentile_stretch", "clahe", "invert", "svd", "resize", "crop_foreground", "normalize"} <= set(names)
    for name in names:
        spec = get_op(name)
        assert spec.title and spec.defaults() == spec.resolve({})


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_pipeline_config_round_trips(tmp_path, suffix):
    config = PipelineConfig(steps=[StepConfig("percentile_stretch", {"low": 2.0, "high": 98.0}), StepConfig("svd", {"k": 25})],
                            description="robust + SVD")
    save_config(config, tmp_path / f"p{suffix}")
    assert load_config(PipelineConfig, tmp_path / f"p{suffix}") == config


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "configs").glob("pipeline_*.toml")), ids=lambda p: p.name)
def test_example_pipelines_load_and_run(path):
    config = load_config(PipelineConfig, path)
    out, _ = apply_pipeline(np.random.default_rng(0).random((120, 90)).astype(np.float32), config)
    assert np.isfinite(out).all()
