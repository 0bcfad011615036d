"""The model registry and the export / predict / models commands."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from inference_support import TinyAttentionNet, breastmnist_batch, home_with_signing_key, tiny_card

from medvision_app.cli.main import main
from medvision_app.inference import ModelError
from medvision_app.inference.export import export_module
from medvision_app.inference.model import card_path_for
from medvision_app.inference.registry import ModelRegistry, user_models_dir


@pytest.fixture(autouse=True)
def medvision_home(tmp_path, monkeypatch):
    home_with_signing_key(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("MEDVISION_DEVICE", "cpu")
    return tmp_path / "home"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, shared_data):
    torch.manual_seed(2)
    images, _ = breastmnist_batch(shared_data, 4)
    card = tiny_card(preprocessing={"steps": [{"op": "resize", "params": {"height": 28, "width": 28}}]})
    path, _ = export_module(TinyAttentionNet(), card, images, tmp_path_factory.mktemp("reg") / "tiny.onnx")
    return path


def test_user_folder_follows_medvision_home(medvision_home):
    assert user_models_dir() == medvision_home / "models"


def test_import_list_verify_remove(model_file, tmp_path):
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copyfile(model_file, shipped / "builtin.onnx")
    registry = ModelRegistry(shipped=shipped)
    target = registry.import_model(model_file, name="mine")
    assert target == user_models_dir() / "mine.onnx" and card_path_for(target).is_file()
    entries = {e.name: e for e in registry.list()}
    assert entries["builtin"].location == "shipped" and entries["builtin"].ok
    assert entries["mine"].location == "user" and entries["mine"].card.classes == ["malignant", "benign"]
    assert registry.verify("mine").graph_sha256 == entries["builtin"].card.graph_sha256
    with pytest.raises(ModelError, match="exists"):
        registry.import_model(model_file, name="mine")
    with pytest.raises(ModelError, match="shipped models cannot be removed"):
        registry.remove("builtin")
    registry.remove("mine")
    assert not target.exists() and not card_path_for(target).exists()
    with pytest.raises(ModelError, match="no user model"):
        registry.remove("mine")


def test_tampered_model_is_listed_as_refused_and_not_imported(model_file, tmp_path):
    bad = tmp_path / "bad.onnx"
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    registry = ModelRegistry(shipped=tmp_path)
    entry = next(e for e in registry.list() if e.name == "bad")
    assert not entry.ok and entry.card is None and entry.problem
    with pytest.raises(ModelError):
        registry.import_model(bad)
    assert not (user_models_dir() / "bad.onnx").exists()


def test_cli_predict_prints_probabilities_and_writes_heatmaps(model_file, shared_data, tmp_path, capsys):
    png = shared_data / "busi-256" / "benign" / "benign (1).png"
    dcm = shared_data / "dicom-codecs" / "pylibjpeg-data" / "RLELossless__emri_small_RLE.dcm"
    assert main(["predict", str(model_file), str(png), str(dcm), "--json", "--heatmap", str(tmp_path / "hm")]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["source"] for line in lines] == [str(png), str(dcm)]
    for line in lines:
        assert sum(line["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert line["predicted"] == max(line["probabilities"], key=line["probabilities"].get)
        assert line["provider"] == "CPUExecutionProvider"
    assert sorted(p.name for p in (tmp_path / "hm").iterdir()) == [
        "RLELossless__emri_small_RLE.heatmap.png", "benign (1).heatmap.png"]
    assert main(["predict", str(model_file), str(png)]) == 0
    text = capsys.readouterr().out
    assert "CPUExecutionProvider" in text and "malignant" in text


def test_cli_predict_corrupt_dicom_exits_2_with_clear_message(model_file, shared_data, tmp_path, capsys):
    bad = shared_data / "dicom-codecs" / "pylibjpeg-data" / "JPEGExtended__RG2_JPLY.dcm"
    truncated = tmp_path / "truncated.dcm"
    good = (shared_data / "dicom-codecs" / "pylibjpeg-data" / "RLELossless__emri_small_RLE.dcm").read_bytes()
    truncated.write_bytes(good[:400])
    for path in (bad, truncated):
        assert main(["predict", str(model_file), str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {path}: ")


def test_cli_refuses_a_tampered_model(model_file, shared_data, tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0x01  # a weight byte
    bad.write_bytes(bytes(data))
    png = shared_data / "busi-256" / "benign" / "benign (1).png"
    assert main(["predict", str(bad), str(png)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {bad}: ") and "\n" not in err
    assert main(["models", "verify", str(bad)]) == 2
    assert main(["models", "verify", str(model_file)]) == 0
    assert "OK" in capsys.readouterr().out


def test_cli_models_import_list_remove(model_file, capsys):
    assert main(["models", "import", str(model_file), "--name", "cli-model"]) == 0
    assert main(["models", "list", "--json"]) == 0
    out = capsys.readouterr().out
    listed = json.loads(out[out.index("["):])
    assert any(e["name"] == "cli-model" and e["location"] == "user" and e["ok"] for e in listed)
    assert main(["predict", "cli-model", "--json", str(model_file.parent / "missing.png")]) == 2
    assert main(["models", "remove", "cli-model"]) == 0
    assert main(["models", "remove", "cli-model"]) == 2
