"""Folder and DICOMDIR scanning: headers only, bad files listed, progress and cancel."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pydicom
import pytest
from conftest import DATA, needs_shared
from dicom_factory import write_dicom
from PIL import Image
from pydicom.data import get_testdata_file

from medvision_app.events import Cancelled, CancelToken, Progress
from medvision_app.imaging import ImageOpenError
from medvision_app.imaging.study_index import NON_DICOM_PATIENT, read_header, scan_folder


@pytest.fixture
def mixed_folder(tmp_path):
    study = pydicom.uid.generate_uid()
    series = pydicom.uid.generate_uid()
    (tmp_path / "dicom").mkdir()
    for i in range(3):
        write_dicom(
            tmp_path / "dicom" / f"im{i}.dcm",
            np.full((8, 8), i, np.uint16), StudyInstanceUID=study, SeriesInstanceUID=series,
            InstanceNumber=3 - i, PatientID="P1",
        )
    write_dicom(tmp_path / "dicom" / "other.dcm", np.zeros((4, 4), np.uint16), PatientID="P2")
    (tmp_path / "png").mkdir()
    Image.fromarray(np.zeros((10, 20), np.uint8)).save(tmp_path / "png" / "a.png")
    (tmp_path / "png" / "broken.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\xfe" * 10)
    (tmp_path / "png" / "notes.txt").write_text("ignored")
    (tmp_path / "junk").write_bytes(os.urandom(300))
    return tmp_path


def test_scan_builds_the_tree_and_lists_unreadable(mixed_folder):
    events = []
    index = scan_folder(mixed_folder, emit=events.append)
    ids = [p.patient_id for p in index.patients]
    assert ids == ["P1", "P2", NON_DICOM_PATIENT]
    series = index.patients[0].studies[0].series
    assert len(series) == 1
    # Sorted by Instance Number, not file name.
    assert [r.path.name for r in series[0].instances] == ["im2.dcm", "im1.dcm", "im0.dcm"]
    png = index.patients[2].studies[0].series[0].instances[0]
    assert png.format == "PNG" and (png.rows, png.columns) == (10, 20)
    unreadable = {u.path.name: u.reason for u in index.unreadable}
    assert set(unreadable) == {"broken.dcm", "junk"}  # notes.txt is not an image candidate
    assert "DICOM" in unreadable["broken.dcm"]
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total == 7


def test_scan_reads_headers_only(mixed_folder, monkeypatch):
    calls = []
    real = pydicom.dcmread

    def spy(*args, **kwargs):
        calls.append(kwargs.get("stop_before_pixels"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", spy)
    scan_folder(mixed_folder)
    assert calls and all(calls)


def test_cancel_stops_the_scan(mixed_folder):
    token = CancelToken()

    def emit(event):
        if isinstance(event, Progress) and event.done == 0:
            token.cancel()

    with pytest.raises(Cancelled):
        scan_folder(mixed_folder, emit=emit, cancel=token)


def test_dicomdir(tmp_path):
    src = os.path.dirname(get_testdata_file("DICOMDIR", download=False))
    shutil.copytree(src, tmp_path / "dd")
    index = scan_folder(tmp_path / "dd")
    assert index.n_instances == 31 and len(index.patients) == 2
    by_dicomdir_file = scan_folder(tmp_path / "dd" / "DICOMDIR")
    assert by_dicomdir_file.n_instances == 31


def test_missing_root(tmp_path):
    with pytest.raises(ImageOpenError, match="no such folder"):
        scan_folder(tmp_path / "absent")


@needs_shared
def test_header_only_mammograms_still_index():
    index = scan_folder(DATA / "mg-headers-openrem")
    records = {r.path.name: r for r in index.instances()}
    assert len(records) == 5 and not index.unreadable
    assert records["MG-Im-Hologic-PropProj.dcm"].has_pixels is False
    assert records["MG-Im-GE_Seno_1_ForPresentation.dcm"].has_pixels is True
    assert records["MG-Im-GE_Seno_1_ForPresentation.dcm"].metadata.view_position == "CC"


@needs_shared
def test_cbis_four_views():
    index = scan_folder(DATA / "cbis-ddsm-P_00173")
    views = sorted((r.metadata.laterality, r.metadata.view_position) for r in index.instances())
    assert views == [("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO")]
    assert all(r.rows > 4000 and r.transfer_syntax == "RLE Lossless" for r in index.instances())


@needs_shared
def test_read_header_of_every_codec_file():
    for path in sorted((DATA / "dicom-codecs").rglob("*.dcm")):
        record = read_header(path)
        assert record.format == "DICOM" and record.has_pixels and record.rows
