"""`medvision preprocess` and `medvision augment-preview`."""

from __future__ import annotations

import numpy as np
from dicom_factory import write_dicom
from PIL import Image

from medvision_app.cli.main import main


def test_preprocess_writes_the_pipeline_output(tmp_path, capsys):
    pixels = np.linspace(1000, 3000, 80 * 60).astype(np.uint16).reshape(80, 60)
    src = write_dicom(tmp_path / "in.dcm", pixels, BitsStored=12, PhotometricInterpretation="MONOCHROME1")
    (tmp_path / "p.toml").write_text('[[steps]]\nop = "resize"\nparams = { height = 32, width = 32, mode = "stretch" }\n')
    assert main(["preprocess", str(src), str(tmp_path / "out.png"), "--config", str(tmp_path / "p.toml")]) == 0
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (32, 32)
    # MONOCHROME1: the lowest stored values (top rows) are brightest after display.
    assert out[:4].mean() > out[-4:].mean() + 100
    assert "wrote" in capsys.readouterr().out


def test_augment_preview_is_seeded(tmp_path, capsys):
    Image.fromarray((np.arange(64 * 64) % 256).astype(np.uint8).reshape(64, 64)).save(tmp_path / "in.png")
    for name in ("a", "b"):
        assert main(["augment-preview", str(tmp_path / "in.png"), str(tmp_path / name), "-n", "4", "--seed", "5"]) == 0
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == ["aug_00.png", "aug_01.png", "aug_02.png", "aug_03.png", "grid.png"]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert "seed 5" in capsys.readouterr().out


def test_bad_input_and_config_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tmp_path / "p.toml").write_text('[[steps]]\nop = "sharpen"\n')
    assert main(["preprocess", str(tmp_path / "bad.png"), str(tmp_path / "o.png"), "--config", str(tmp_path / "p.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "sharpen" in err and err.count("\n") == 1
