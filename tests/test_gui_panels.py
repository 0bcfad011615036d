"""Preprocessing and augmentation panels under pytest-qt (offscreen)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from medvision_app.augmentation import AugmentationConfig  # noqa: E402
from medvision_app.gui.augmentation_panel import AugmentationPanel  # noqa: E402
from medvision_app.gui.preprocessing_panel import DRAG_SIDE, PreprocessingPanel  # noqa: E402
from medvision_app.preprocessing import PipelineConfig, StepConfig, apply_pipeline  # noqa: E402
from medvision_app.samples import mammogram_phantom  # noqa: E402
from medvision_app.utils.config_io import ConfigError, load_config  # noqa: E402

TIMEOUT = 15000


@pytest.fixture(scope="module")
def source() -> np.ndarray:
    image = mammogram_phantom("L", "CC", shape=(640, 400), seed=3).astype(np.float32)
    return image / image.max()


@pytest.fixture
def prep(qtbot, source):
    panel = PreprocessingPanel()
    panel.resize(700, 800)
    panel.show()
    with qtbot.waitSignal(panel.previewShown, timeout=TIMEOUT):
        panel.set_source(source)
    yield panel
    _close(qtbot, panel)


def _close(qtbot, panel):
    # Let the last preview finish before the panel (and its thread pool) goes.
    qtbot.waitUntil(lambda: not panel.engine.busy(), timeout=TIMEOUT)
    panel.close()
    panel.deleteLater()


def test_preview_follows_parameter_edits(qtbot, prep, source):
    np.testing.assert_allclose(prep.after_image(), apply_pipeline(source, prep.config)[0])
    with qtbot.waitSignal(prep.previewShown, timeout=TIMEOUT):
        prep.add_step("clahe")
    first = prep.after_image().copy()
    with qtbot.waitSignal(prep.previewShown, timeout=TIMEOUT):
        prep.set_param(1, "clip_limit", 0.2, final=True)
    after = prep.after_image()
    assert not np.allclose(after, first)
    np.testing.assert_allclose(after, apply_pipeline(source, prep.config)[0], atol=1e-6)


def test_slider_drag_previews_reduced_then_full(qtbot, prep, source):
    with qtbot.waitSignal(prep.previewShown, timeout=TIMEOUT):
        prep.add_step("clahe")
    control = prep._form.controls["clip_limit"]
    assert control.slider is not None
    with qtbot.waitSignal(prep.previewShown, timeout=TIMEOUT, check_params_cb=lambda tag: tag == "reduced"):
        control.slider.setSliderDown(True)
        control.slider.setValue(300)  # a drag: every move is a non-final edit
    assert max(prep.after_image().shape) <= DRAG_SIDE
    assert prep.config.steps[1].params["clip_limit"] == pytest.approx(0.3)
    with qtbot.waitSignal(prep.previewShown, timeout=TIMEOUT, check_params_cb=lambda tag: tag == "full"):
        control.slider.setSliderDown(False)
        control.slider.sliderReleased.emit()
    assert prep.after_image().shape == source.shape


def test_invalid_parameter_is_reported_not_applied(qtbot, prep):
    prep.set_param(0, "out_max", -5.0)
    assert "out_max" in prep.status.text() and prep.config.steps[0].params.get("out_max") is None


def test_pipeline_save_and_load(qtbot, prep, tmp_path):
    with qtbot.waitSignal(prep.previewShown, timeout=TIMEOUT):
        prep.add_step("invert")
    path = tmp_path / "pipeline.toml"
    prep.save_to(path)
    assert load_config(PipelineConfig, path) == prep.config
    other = PipelineConfig(steps=[StepConfig("equalize_hist")])
    from medvision_app.utils.config_io import save_config

    save_config(other, tmp_path / "other.json")
    with qtbot.waitSignal(prep.previewShown, timeout=TIMEOUT):
        prep.load_from(tmp_path / "other.json")
    assert [s.op for s in prep.config.steps] == ["equalize_hist"] and prep.steps.count() == 1
    (tmp_path / "bad.json").write_text('{"steps": [{"op": "no_such_op"}]}')
    with pytest.raises(ConfigError, match="no_such_op"):
        prep.load_from(tmp_path / "bad.json")


@pytest.fixture
def aug(qtbot, source):
    panel = AugmentationPanel(seed=7)
    panel.resize(700, 800)
    panel.show()
    with qtbot.waitSignal(panel.previewShown, timeout=TIMEOUT):
        panel.set_source(source)
    yield panel
    _close(qtbot, panel)


def test_grid_shows_nine_variants_and_reroll_changes_them(qtbot, aug):
    first = [v.copy() for v in aug.variants()]
    assert len(first) == 9 and all(v is not None for v in first)
    assert aug.seed_label.text() == "Seed 7"
    with qtbot.waitSignal(aug.previewShown, timeout=TIMEOUT):
        aug.reroll_button.click()
    assert aug.seed != 7 and aug.seed_label.text() == f"Seed {aug.seed}"
    assert any(not np.array_equal(a, b) for a, b in zip(first, aug.variants(), strict=False))


def test_editing_the_config_in_the_form_redraws(qtbot, aug, tmp_path):
    editor = aug.form.editors["horizontal_flip"]
    with qtbot.waitSignal(aug.previewShown, timeout=TIMEOUT):
        editor.setText("1.0")
        editor.editingFinished.emit()
    assert aug.config.horizontal_flip == 1.0
    # An invalid value (probability 3) is reported and not applied.
    aug.form.editors["invert"].setText("3")
    aug.form.editors["invert"].editingFinished.emit()
    assert "invert" in aug.status.text() and aug.config.invert == 0.0
    path = tmp_path / "aug.json"
    aug.save_to(path)
    assert load_config(AugmentationConfig, path) == aug.config
    with qtbot.waitSignal(aug.previewShown, timeout=TIMEOUT):
        aug.load_from(path)
    assert aug.form.values()["horizontal_flip"] == 1.0
