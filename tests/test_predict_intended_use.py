"""``medvision predict``: a heatmap for every image (or the reason on stderr), status, intended use, override."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from dicom_factory import write_dicom
from inference_support import TinyCnn, home_with_signing_key, tiny_card
from PIL import Image

from medvision_app.cli.main import main
from medvision_app.inference.card_update import update_card
from medvision_app.inference.export import export_module
from medvision_app.inference.intended_use import check_intended_use, infer_intended_use
from medvision_app.inference.model import verify_model
from medvision_app.networks import build_model
from medvision_app.networks.config import ModelConfig


@pytest.fixture(autouse=True)
def medvision_home(tmp_path, monkeypatch):
    home_with_signing_key(monkeypatch, tmp_path / "home")  # the module's models stay "signed"
    monkeypatch.setenv("MEDVISION_DEVICE", "cpu")


def _images(n=3, size=32):
    rng = np.random.default_rng(0)
    return rng.random((n, 1, size, size), dtype=np.float32)


@pytest.fixture(scope="module")
def pnet_model(tmp_path_factory):
    """A P-NET exported without Soft-Attention, for ultrasound."""
    torch.manual_seed(0)
    net = build_model(ModelConfig(name="pnet", pretrained="none", input_size=32, in_channels=1), 2).eval()
    card = tiny_card(size=(32, 32), attention=False)
    card.modalities, card.body_part = ["US"], "breast"
    path, _ = export_module(net, card, _images(), tmp_path_factory.mktemp("m") / "pnet-us.onnx")
    return path


def _png(path, size=(40, 50)):
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random(size) * 255).astype(np.uint8)).save(path)
    return path


def test_predict_heatmap_for_pnet_without_soft_attention(pnet_model, tmp_path, capsys):
    png = _png(tmp_path / "scan.png")
    dcm = write_dicom(tmp_path / "us.dcm", (np.random.default_rng(2).random((30, 30)) * 4000).astype(np.uint16),
                      Modality="US")
    out = tmp_path / "hm"
    assert main(["predict", str(pnet_model), str(png), str(dcm), "--heatmap", str(out), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["status"] for r in lines] == ["ok", "ok"]
    # exported in this test session, so signed with its key (outside the registry too)
    assert lines[0]["heatmap"] == "cam" and lines[0]["provenance"] == "signed"
    written = sorted(p.name for p in out.iterdir())
    assert written == ["scan.heatmap.png", "us.heatmap.png"]
    assert Image.open(out / "scan.heatmap.png").size == (50, 40)


def test_predict_says_why_there_is_no_heatmap(tmp_path, capsys):
    path, _ = export_module(TinyCnn(), tiny_card(attention=False), _images(size=28), tmp_path / "cnn.onnx")
    assert verify_model(path).card.heatmap == "none"
    png = _png(tmp_path / "a.png")
    assert main(["predict", str(path), str(png), "--heatmap", str(tmp_path / "hm")]) == 0
    err = capsys.readouterr().err
    assert "a.png: no heatmap:" in err and "Grad-CAM" in err
    assert not (tmp_path / "hm").exists() or not any((tmp_path / "hm").iterdir())


def test_outside_intended_use_refused_then_overridden(pnet_model, tmp_path, capsys):
    mammo = write_dicom(tmp_path / "mg.dcm", (np.random.default_rng(3).random((40, 30)) * 4000).astype(np.uint16),
                        Modality="MG")
    assert main(["predict", str(pnet_model), str(mammo), "--json"]) == 2
    captured = capsys.readouterr()
    refused = json.loads(captured.out)
    assert refused["status"] == "outside_intended_use" and "MG" in refused["reason"]
    assert "probabilities" not in refused
    assert "outside the intended use" in captured.err
    assert main(["predict", str(pnet_model), str(mammo), "--json", "--research-override"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "outside_intended_use" and result["research_override"] is True
    assert set(result["probabilities"]) == {"malignant", "benign"}


def test_failed_image_has_status_failed(pnet_model, tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    assert main(["predict", str(pnet_model), str(bad), "--json"]) == 2
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "failed" and "broken.png" in result["reason"]


def test_intended_use_rules_and_inference():
    card = tiny_card()
    assert not check_intended_use(card, "MG").outside  # the card names nothing: not checked
    card.modalities = ["DX"]
    assert not check_intended_use(card, "CR").outside and check_intended_use(card, "MG").outside
    assert not check_intended_use(card, None).outside
    assert infer_intended_use("breastmnist.npz")[:2] == (["US"], "breast")
    assert infer_intended_use("ham10000-200x150")[0] == ["dermoscopy"]
    assert infer_intended_use("anything", "mg", "BREAST") == (["MG"], "breast", "")


def test_update_card_keeps_the_graph(pnet_model, tmp_path):
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(pnet_model.read_bytes())
    before = verify_model(copy).card
    after = update_card(copy, modalities=["MG"], body_part="breast")
    assert after.graph_sha256 == before.graph_sha256 and verify_model(copy).card.modalities == ["MG"]
    with pytest.raises(ValueError):
        update_card(copy, graph_sha256="0" * 64)
