"""Core pieces behind the workstation (no Qt): hanging protocol, viewing helpers, sample study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medvision_app.imaging import ImageMetadata, open_image
from medvision_app.imaging.hanging import (
    GRID,
    MAMMO_FOUR_VIEW,
    chest_wall_side,
    grid,
    hang,
    mammo_four_view,
    needs_flip,
    view_of,
)
from medvision_app.imaging.viewing import (
    Window,
    drag_window,
    modality_presets,
    prepare_frame,
    readout,
    reduce_stored,
    reduction_factor,
)
from medvision_app.samples import ensure_sample_study, mammogram_phantom


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return ensure_sample_study(tmp_path_factory.mktemp("cache") / "sample")


def _meta(lat=None, view=None, desc=None) -> ImageMetadata:
    return ImageMetadata(laterality=lat, view_position=view, series_description=desc)


def test_view_of_prefers_tags_then_reads_descriptions_and_names():
    assert view_of(_meta("R", "MLO")) == ("R", "MLO")
    assert view_of(_meta(desc="Mass-Test_P_00173_LEFT_CC")) == ("L", "CC")
    assert view_of(_meta(), Path("case12_RMLO.dcm")) == ("R", "MLO")
    assert view_of(_meta(), Path("image.dcm")) == (None, None)


def test_four_view_hangs_right_breast_left_with_chest_walls_facing():
    items = [(_meta("L", "MLO"), None), (_meta("R", "CC"), None), (_meta("L", "CC"), None), (_meta("R", "MLO"), None)]
    hanging = mammo_four_view(items)
    assert hanging.protocol == MAMMO_FOUR_VIEW and (hanging.rows, hanging.cols) == (2, 2)
    where = {p.label: (p.row, p.col, p.item, p.chest_wall) for p in hanging.placements}
    assert where == {
        "RCC": (0, 0, 1, "right"),
        "LCC": (0, 1, 2, "left"),
        "RMLO": (1, 0, 3, "right"),
        "LMLO": (1, 1, 0, "left"),
    }


def test_incomplete_study_falls_back_to_grid():
    items = [(_meta("L", "CC"), None), (_meta("R", "CC"), None), (_meta("L", "MLO"), None)]
    assert mammo_four_view(items) is None
    hanging = hang(items, "2x2")
    assert hanging.protocol == GRID and len(hanging.placements) == 3
    assert [(p.row, p.col) for p in hanging.placements] == [(0, 0), (0, 1), (1, 0)]
    assert len(hang(items, "1x2").placements) == 2
    assert len(hang(items).placements) == 1


def test_grid_rejects_unknown_layout():
    with pytest.raises(ValueError, match="3x3"):
        grid(4, "3x3")


@pytest.mark.parametrize("lat", ["L", "R"])
def test_chest_wall_detection_on_phantom(lat):
    image = mammogram_phantom(lat, "CC", shape=(128, 80))
    side = "left" if lat == "L" else "right"
    assert chest_wall_side(image) == side
    assert not needs_flip(image, side)
    assert needs_flip(image, "right" if side == "left" else "left")
    with pytest.raises(ValueError, match="middle"):
        needs_flip(image, "middle")


def test_reduce_stored_keeps_dtype_and_block_means():
    frame = np.arange(6 * 8, dtype=np.uint16).reshape(6, 8)
    out = reduce_stored(frame, 2)
    assert out.dtype == np.uint16 and out.shape == (3, 4)
    assert out[0, 0] == round(np.mean([0, 1, 8, 9]))
    assert reduce_stored(frame, 1) is frame
    assert reduction_factor((4432, 2864), 1600) == 3
    with pytest.raises(ValueError, match="max_side"):
        reduction_factor((10, 10), 0)


def test_drag_window_moves_width_and_center():
    out = drag_window(Window(100.0, 200.0), 50, -25, span=1000.0)
    assert out.width == pytest.approx(300.0) and out.center == pytest.approx(150.0)
    assert drag_window(Window(0.0, 5.0), -1000, 0, span=1000.0).width == 1.0


def test_modality_presets_for_ct_only():
    names = [p.name for p in modality_presets("CT")]
    assert "Lung" in names and "Bone" in names
    assert modality_presets("MG") == []


def test_sample_study_is_real_dicom_with_a_four_view(sample):
    files = sorted(sample.rglob("*.dcm"))
    assert {f.name for f in files} >= {"CT_small.dcm", "MR_small.dcm", "RCC.dcm", "LMLO.dcm"}
    items = []
    for f in files:
        image = open_image(f)
        items.append((image.metadata, f))
    assert hang(items).protocol == MAMMO_FOUR_VIEW
    # Writing again is a no-op: the marker says the study is complete.
    before = (sample / "phantom-mammography" / "RCC.dcm").stat().st_mtime_ns
    ensure_sample_study(sample)
    assert (sample / "phantom-mammography" / "RCC.dcm").stat().st_mtime_ns == before


def test_readout_and_prepare_on_ct(sample):
    image = open_image(sample / "CT_small.dcm")
    value = readout(image, 0, 10, 20)
    stored = float(image.frames[0, 10, 20])
    assert value.stored == (stored,)
    assert value.modality == pytest.approx(stored * image.modality_lut.slope + image.modality_lut.intercept)
    assert readout(image, 0, -1, 0) is None
    prepared = prepare_frame(image, 0, max_side=64)
    assert prepared.factor == 2 and prepared.display.shape == (64, 64) and prepared.display.dtype == np.uint8
    assert prepared.counts.sum() == 64 * 64


def test_core_modules_do_not_load_qt():
    import subprocess
    import sys

    code = (
        "import sys, medvision_app.imaging.hanging, medvision_app.imaging.viewing, medvision_app.samples;"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))];"
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
