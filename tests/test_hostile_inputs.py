"""Issue 11, items 1-5: memory bombs, special files, tracebacks, preamble-less DICOM, degenerate images.

Each test reproduces one finding of the hostile-input review. Inputs that
could hang or eat memory without their guard run in a child process with a
timeout and a memory cap, and the child's own peak memory is measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import DATA, needs_shared
from dicom_factory import write_dicom
from hostile_corpus import (
    Case,
    child_env,
    rewrite_dicom,
    run_subprocess,
    write_deflated_dicom,
    write_png_bomb,
    write_without_preamble,
)
from PIL import Image
from pydicom.data import get_testdata_file

from medvision_app.cli.main import main
from medvision_app.imaging import ImageOpenError, open_image
from medvision_app.imaging.study_index import scan_folder

ROOT = Path(__file__).resolve().parents[1]
REFUSED_PEAK_MB = 500
CT = Path(get_testdata_file("CT_small.dcm", download=False))


@pytest.fixture(autouse=True)
def _user_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEDVISION_MAX_FRAME_PIXELS", raising=False)
    monkeypatch.delenv("MEDVISION_MAX_IMAGE_PIXELS", raising=False)


def _one_error_line(stderr: str, *needles: str) -> str:
    lines = [line for line in stderr.splitlines() if not line.startswith(("WARNING ", "warning: "))]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _refused_in_child(path: Path, tmp_path: Path, command: str = "render", *, timeout: float = 60,
                      unprivileged: bool = False):
    """Run one command on ``path`` in a child capped at 3 GB; it must refuse it with one line, under 500 MB."""
    out_dir = tmp_path / "out"
    out_dir.mkdir(exist_ok=True)
    outcome = run_subprocess(Case(path.name, path, "test", unprivileged=unprivileged), command, out_dir, timeout=timeout,
                             memory_limit_mb=3000)
    assert outcome.returncode is not None, f"{command} {path.name} hung for {timeout} s"
    assert outcome.returncode == 2, (outcome.returncode, outcome.stderr[-2000:])
    assert outcome.max_rss_mb < REFUSED_PEAK_MB, f"peak {outcome.max_rss_mb:.0f} MB"
    return outcome


# --- 1. memory bombs ---------------------------------------------------------------------------


@needs_shared
def test_rle_mammogram_with_rows_and_columns_65535_is_refused_before_decoding(tmp_path):
    bomb = rewrite_dicom(DATA / "cbis-ddsm-P_00173" / "sfm-benign-0_1-130.dcm", tmp_path / "bomb.dcm",
                         Rows=65535, Columns=65535)
    for command in ("info", "render", "predict"):
        outcome = _refused_in_child(bomb, tmp_path, command)
        _one_error_line(outcome.stderr, "too large", "65535 x 65535")


def test_rle_header_larger_than_its_data_can_hold_is_refused(tmp_path):
    # 4000 x 4000 is inside the pixel limit, but 30 KB of RLE cannot hold 32 MB.
    src = Path(get_testdata_file("MR_small_RLE.dcm", download=False))
    lying = rewrite_dicom(src, tmp_path / "lying.dcm", Rows=4000, Columns=4000)
    with pytest.raises(ImageOpenError, match="RLE data present can hold"):
        open_image(lying)


@needs_shared
def test_more_frames_than_fragments_is_refused(tmp_path):
    src = DATA / "dicom-codecs" / "orthanc-tests" / "TS_1.2.840.10008.1.2.4.50.dcm"
    lying = rewrite_dicom(src, tmp_path / "frames.dcm", NumberOfFrames=1000)
    with pytest.raises(ImageOpenError, match="declares 1000 frames but the pixel data hold only 1 fragment"):
        open_image(lying)
    two = DATA / "dicom-codecs" / "pylibjpeg-data" / "JPEGLosslessSV1__JPEGLosslessP14SV1_3s_2f_u_08_08.dcm"
    assert open_image(two).n_frames == 2


def test_deflated_bomb_is_refused_from_its_header_under_500_mb(tmp_path):
    bomb = write_deflated_dicom(tmp_path / "deflated.dcm", 20000, 20000)
    assert bomb.stat().st_size < 1_000_000  # 800 MB of zeros
    with pytest.raises(ImageOpenError, match="too large: 20000 x 20000"):
        open_image(bomb)
    for command in ("info", "predict"):
        _one_error_line(_refused_in_child(bomb, tmp_path, command).stderr, "too large")


def test_deflated_stream_that_inflates_past_its_header_is_cut_off(tmp_path):
    # The header says 100 x 100; the stream holds 5,000 rows (10 MB once inflated).
    bomb = write_deflated_dicom(tmp_path / "lying.dcm", 100, 100, data_rows=50_000)
    with pytest.raises(ImageOpenError, match="inflate to more than"):
        open_image(bomb)
    index = scan_folder(tmp_path)  # the index inflates the header only
    assert index.n_instances == 1 and not index.unreadable


def test_deflated_file_still_opens(tmp_path):
    small = write_deflated_dicom(tmp_path / "small.dcm", 64, 48)
    image = open_image(small)
    assert image.shape == (64, 48) and image.transfer_syntax == "Deflated Explicit VR Little Endian"


@needs_shared
def test_real_deflated_file_opens_the_same(shared_data):
    path = shared_data / "dicom-codecs" / "orthanc-tests" / "TS_1.2.840.10008.1.2.1.99.dcm"
    image = open_image(path)
    assert np.array_equal(image.frames[0], pydicom.dcmread(path).pixel_array)


@pytest.mark.parametrize("size,bits", [(13300, 16), (30000, 8)])
def test_png_bombs_are_refused_under_500_mb(tmp_path, size, bits):
    bomb = write_png_bomb(tmp_path / f"bomb{bits}.png", size, size, bits)
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(ImageOpenError, match="too large"):
        open_image(bomb)
    _one_error_line(_refused_in_child(bomb, tmp_path, "predict").stderr, "too large")


def test_pgm_with_huge_dimensions_is_an_error_not_a_traceback(tmp_path, capsys):
    pgm = tmp_path / "huge.pgm"
    pgm.write_bytes(b"P5\n100000 100000\n255\n" + b"\x00" * 64)
    assert main(["info", str(pgm)]) == 2
    _one_error_line(capsys.readouterr().err, "too large")


def test_pixel_limit_is_configurable(tmp_path, monkeypatch):
    path = tmp_path / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 200), dtype=np.uint8)).save(path)
    assert open_image(path).shape == (300, 200)
    monkeypatch.setenv("MEDVISION_MAX_FRAME_PIXELS", "50000")
    with pytest.raises(ImageOpenError, match="200 x 300 = 60,000 pixels per frame.*MEDVISION_MAX_FRAME_PIXELS"):
        open_image(path)
    frames = np.zeros((3, 100, 100), np.uint16)
    write_dicom(tmp_path / "multi.dcm", frames)
    monkeypatch.setenv("MEDVISION_MAX_IMAGE_PIXELS", "25000")
    with pytest.raises(ImageOpenError, match="3 frames of 100 x 100"):
        open_image(tmp_path / "multi.dcm")


def test_default_limit_admits_8000_square_16_bit(monkeypatch):
    from medvision_app.imaging.limits import check_declared_size, current_limits

    limits = current_limits()
    assert limits.max_frame_pixels >= 8000 * 8000 and limits.max_image_pixels >= 16 * 8000 * 8000
    check_declared_size("big.dcm", 8000, 8000, 16)
    with pytest.raises(ImageOpenError):
        check_declared_size("bomb.dcm", 20000, 20000)


def test_training_skips_a_decompression_bomb(tmp_path):
    from medvision_app.data.config import DataConfig
    from medvision_app.data.prepare import prepare_data

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    pgm = tmp_path / "a" / "bomb.pgm"
    pgm.write_bytes(b"P5\n100000 100000\n255\n" + b"\x00" * 64)
    config = DataConfig(path=str(tmp_path), on_unreadable="skip")
    prepared = prepare_data(config, tmp_path, input_size=16, in_channels=1)
    skipped = {Path(file).name: reason for file, reason in prepared.skipped}
    assert list(skipped) == ["bomb.pgm"] and "too large" in skipped["bomb.pgm"]
    assert sum(len(d) for d in prepared.datasets.values()) == 12


# --- 2. special files --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["info", "render", "predict"])
def test_fifo_is_refused_at_once(tmp_path, command):
    fifo = tmp_path / "scan.dcm"
    os.mkfifo(fifo)
    outcome = _refused_in_child(fifo, tmp_path, command, timeout=30)
    _one_error_line(outcome.stderr, "named pipe (FIFO), not a regular file")


def test_symlink_to_dev_zero_is_refused(tmp_path):
    link = tmp_path / "zero.dcm"
    os.symlink("/dev/zero", link)
    outcome = _refused_in_child(link, tmp_path, "render", timeout=30)
    _one_error_line(outcome.stderr, "character device")


def test_folder_scan_lists_special_files_as_unreadable(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    write_dicom(folder / "ok.dcm", np.arange(16, dtype=np.uint16).reshape(4, 4), PatientID="ANON1")
    os.mkfifo(folder / "pipe.dcm")
    os.symlink("/dev/zero", folder / "zero.dcm")
    done = subprocess.run([sys.executable, "-m", "medvision_app", "info", str(folder), "--json"], capture_output=True,
                          text=True, timeout=60, env=child_env(tmp_path / "home"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    unreadable = {Path(u["path"]).name: u["reason"] for u in json.loads(done.stdout)["unreadable"]}
    assert "named pipe (FIFO)" in unreadable["pipe.dcm"] and "character device" in unreadable["zero.dcm"]
    assert "ok.dcm" not in unreadable


def test_ai_analysis_refuses_a_fifo_without_blocking(tmp_path):
    # The AI panel reads the DICOM header (intended use) and hashes the file (result cache) itself.
    fifo = tmp_path / "pipe.dcm"
    os.mkfifo(fifo)
    code = ("import json, sys\n"
            "from medvision_app.inference.analysis import Analyser, cached_results\n"
            "from medvision_app.inference.model import load_model\n"
            "from medvision_app.inference.registry import ModelRegistry\n"
            "result = Analyser(load_model(ModelRegistry().resolve('breastmnist'))).analyse_one(sys.argv[1])\n"
            "print(json.dumps([result.status, result.reason, len(cached_results([sys.argv[1]], 'x'))]))\n")
    done = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=60,
                          env=child_env(tmp_path / "home"), cwd=tmp_path)
    status, reason, cached = json.loads(done.stdout)
    assert status == "failed" and "named pipe (FIFO)" in reason and cached == 0


# --- 3. tracebacks -----------------------------------------------------------------------------


def _locked(tmp_path: Path) -> Path:
    folder = tmp_path / "locked"
    folder.mkdir()
    write_dicom(folder / "inside.dcm", np.arange(16, dtype=np.uint16).reshape(4, 4))
    folder.chmod(0o000)
    return folder


@pytest.mark.parametrize("command", ["info", "render", "predict"])
def test_file_in_an_unreadable_folder_is_one_error_line(tmp_path, command):
    folder = _locked(tmp_path)
    try:
        outcome = _refused_in_child(folder / "inside.dcm", tmp_path, command, unprivileged=True)
        _one_error_line(outcome.stderr, "permission denied")
    finally:
        folder.chmod(0o755)


def test_unreadable_folder_given_to_info_is_one_error_line(tmp_path):
    folder = _locked(tmp_path)
    try:
        outcome = _refused_in_child(folder, tmp_path, "info", unprivileged=True)
        _one_error_line(outcome.stderr, "cannot list the folder", "permission denied")
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("command", ["info", "render", "predict"])
def test_file_name_too_long_is_one_error_line(tmp_path, capsys, command):
    long = tmp_path / ("n" * 300 + ".dcm")
    argv = {"info": ["info", str(long)], "render": ["render", str(long), str(tmp_path / "o.png")],
            "predict": ["predict", "breastmnist", str(long)]}[command]
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, "file name is too long")


def test_newline_in_a_file_name_stays_on_one_line(tmp_path, capsys):
    bad = tmp_path / "first\nsecond.dcm"
    bad.write_bytes(os.urandom(600))
    assert main(["info", str(bad)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: {tmp_path}/first\\nsecond.dcm: ")
    assert main(["predict", "breastmnist", str(bad), "--json"]) == 2
    captured = capsys.readouterr()
    _one_error_line(captured.err, "first\\nsecond.dcm")
    assert json.loads(captured.out)["source"] == str(bad)


def test_predict_into_a_closed_pipe_is_quiet(tmp_path):
    image = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64), dtype=np.uint8)).save(image)
    command = (f"{sys.executable} -m medvision_app predict breastmnist " + " ".join([str(image)] * 300)
               + " --json | head -1")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=300,
                          env=child_env(tmp_path / "home"), cwd=tmp_path)
    assert json.loads(done.stdout)["status"] == "ok"
    assert done.stderr == "", done.stderr
    assert done.returncode in (0, 1)


# --- 4. DICOM without a preamble ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["bare.dcm", "bare"])
def test_dicom_without_preamble_opens(tmp_path, name):
    bare = write_without_preamble(CT, tmp_path / name)
    assert bare.read_bytes()[128:132] != b"DICM"
    image = open_image(bare)
    assert np.array_equal(image.frames[0], pydicom.dcmread(CT).pixel_array)


def test_pydicom_palette_face_without_preamble():
    face = get_testdata_file("OT-PAL-8-face.dcm", download=False)
    if face is None:
        pytest.skip("OT-PAL-8-face.dcm is not bundled with this pydicom (it would be downloaded)")
    image = open_image(face)
    assert image.is_color and image.shape == (480, 640)


def test_sniff_keeps_raster_formats_and_finds_bare_dicom():
    from medvision_app.imaging.sniff import sniff_bytes

    assert sniff_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 140, "a.dcm") == "PNG"
    assert sniff_bytes(b"\x08\x00\x05\x00CS\x0a\x00" + b"\x00" * 140, "noext") == "DICOM-NOPREAMBLE"
    assert sniff_bytes(b"\x08\x00\x05\x00" + (10).to_bytes(4, "little") + b"\x00" * 140, "x") == "DICOM-NOPREAMBLE"
    assert sniff_bytes(b"just some text in a file " * 6, "notes") is None


# --- 5. degenerate images ----------------------------------------------------------------------


def test_nan_window_is_ignored_not_shown_flat(tmp_path, capsys):
    path = rewrite_dicom(CT, tmp_path / "window.dcm", WindowCenter="NaN", WindowWidth="NaN")
    image = open_image(path)
    assert all(np.isfinite([p.center, p.width]).all() for p in image.presets if p.is_window)
    assert len(np.unique(image.display(0))) > 50
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "C nan" not in out and "W nan" not in out


def test_nan_window_is_refused_everywhere_it_can_be_given(tmp_path, capsys):
    from medvision_app.imaging.display import DisplayPreset

    with pytest.raises(ValueError, match="finite"):
        DisplayPreset("bad", center=float("nan"), width=400.0)
    with pytest.raises(ValueError, match="finite"):
        DisplayPreset("bad", center=40.0, width=float("inf"))
    assert main(["render", str(CT), str(tmp_path / "o.png"), "--window", "nan,nan"]) == 2
    _one_error_line(capsys.readouterr().err, "finite")
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("tags,reason", [
    ({"RescaleSlope": 0}, "Rescale Slope is 0"),
    ({"RescaleSlope": "NaN"}, "not finite"),
    ({"RescaleSlope": 1, "RescaleIntercept": "Infinity"}, "not finite"),
    ({"RescaleSlope": 1, "RescaleIntercept": "1e39"}, "beyond what can be computed"),
])
def test_rescale_that_flattens_the_image_is_refused(tmp_path, capsys, tags, reason):
    path = rewrite_dicom(CT, tmp_path / "rescale.dcm", **tags)
    with pytest.raises(ImageOpenError, match=reason):
        open_image(path)
    assert main(["predict", "breastmnist", str(path), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["status"] == "failed"


@pytest.mark.parametrize("make", ["flat", "white", "window-above", "one-pixel", "hot-pixel"])
def test_predict_refuses_an_image_with_no_contrast(tmp_path, capsys, make):
    if make == "window-above":
        path = write_dicom(tmp_path / "us.dcm", np.random.default_rng(0).integers(0, 4000, (64, 64), dtype=np.uint16),
                           Modality="US", WindowCenter=1e6, WindowWidth=10)
    else:
        pixels = {"flat": np.zeros((64, 64)), "white": np.full((64, 64), 255), "one-pixel": np.zeros((1, 1)),
                  "hot-pixel": np.pad(np.full((1, 1), 255), 100)}[make]
        path = tmp_path / f"{make}.png"
        Image.fromarray(pixels.astype(np.uint8)).save(path)
    assert main(["predict", "breastmnist", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    record = json.loads(captured.out)
    assert record["status"] == "failed" and record["reason"].endswith("image has no contrast")
    assert "predicted" not in record
    _one_error_line(captured.err, "image has no contrast")


def test_predict_still_answers_a_real_image(tmp_path, capsys):
    path = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (64, 64), dtype=np.uint8)).save(path)
    assert main(["predict", "breastmnist", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "ok"


def test_has_contrast():
    from medvision_app.imaging.contrast import has_contrast

    assert not has_contrast(np.zeros((32, 32), np.uint8))
    assert not has_contrast(np.full((32, 32), 0.5, np.float32))
    assert not has_contrast(np.pad(np.ones((1, 1), np.float32), 50))  # one hot pixel
    assert has_contrast(np.random.default_rng(0).random((32, 32), np.float32))
    gradient = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    assert has_contrast(gradient) and has_contrast(np.stack([gradient] * 3, axis=-1))
