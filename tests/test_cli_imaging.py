"""The `medvision info` and `medvision render` contracts."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from conftest import DATA, needs_shared
from dicom_factory import write_dicom
from PIL import Image
from pydicom.data import get_testdata_file

from medvision_app.cli.main import main
from medvision_app.imaging import open_image
from medvision_app.imaging.display import window


def test_info_json_for_a_file(capsys):
    path = get_testdata_file("CT_small.dcm", download=False)
    assert main(["info", path, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 128 and out["frames"] == 1
    assert out["photometric_interpretation"] == "MONOCHROME2"
    assert out["transfer_syntax"] == "Explicit VR Little Endian"
    assert out["metadata"]["modality"] == "CT" and out["metadata"]["patient_id"]


def test_info_deidentified_hides_patient_fields(capsys):
    path = get_testdata_file("CT_small.dcm", download=False)
    assert main(["info", path, "--json", "--deidentify"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "patient_id" not in out["metadata"] and "patient_name" not in out["metadata"]


def test_info_for_a_folder_lists_unreadable(tmp_path, capsys):
    write_dicom(tmp_path / "ok.dcm", np.zeros((4, 4), np.uint16), PatientID="ANON1")
    (tmp_path / "bad.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x01\x02")
    assert main(["info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Patient ANON1" in out and "1 image(s), 1 unreadable file(s)" in out
    assert "unreadable: " + str(tmp_path / "bad.dcm") in out


def test_errors_are_one_line_with_exit_2(tmp_path):
    bad = tmp_path / "corrupt.dcm"
    bad.write_bytes(b"\x00" * 128 + b"DICM" + b"\xff" * 100)
    for command in (["info", str(bad)], ["render", str(bad), str(tmp_path / "o.png")]):
        done = subprocess.run([sys.executable, "-m", "medvision_app", *command], capture_output=True, text=True)
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: ")
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "o.png").exists()


def test_render_default_window_and_explicit_window(tmp_path):
    pixels = np.linspace(0, 4000, 50 * 40).astype(np.uint16).reshape(50, 40)
    src = write_dicom(tmp_path / "w.dcm", pixels, BitsStored=12, WindowCenter=[1000, 3000], WindowWidth=[500, 200],
                      PhotometricInterpretation="MONOCHROME1")
    out = tmp_path / "w.png"
    assert main(["render", str(src), str(out)]) == 0
    written = np.asarray(Image.open(out))
    assert written.shape == (50, 40) and written.dtype == np.uint8
    np.testing.assert_array_equal(written, 255 - np.rint(window(pixels, 1000, 500)).astype(np.uint8))
    assert main(["render", str(src), str(out), "--window=3000,200"]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out)), 255 - np.rint(window(pixels, 3000, 200)).astype(np.uint8))


def test_render_frame_out_of_range(tmp_path, capsys):
    src = write_dicom(tmp_path / "f.dcm", np.zeros((2, 4, 4), np.uint16))
    assert main(["render", str(src), str(tmp_path / "o.png"), "--frame", "2"]) == 2
    assert "frame 2 out of range" in capsys.readouterr().err


@needs_shared
def test_render_cbis_mammogram_full_resolution(tmp_path):
    src = DATA / "cbis-ddsm-P_00173" / "sfm-benign-0_1-132.dcm"
    out = tmp_path / "rcc.png"
    assert main(["render", str(src), str(out)]) == 0
    written = np.asarray(Image.open(out))
    np.testing.assert_array_equal(written, open_image(src).display())
    assert written.shape == (4560, 2864)
