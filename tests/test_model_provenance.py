"""Model provenance (issue 11, item 6): shipped pins, this installation's signatures, unverified origin.

The attack of the issue is rebuilt here: zero the largest weight tensor of a
model, recompute the hashes inside the file, and the file passes every
integrity check. It must still be refused or flagged.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from inference_support import TinyAttentionNet, home_with_signing_key, tiny_card
from onnx import numpy_helper

from medvision_app.cli.main import main
from medvision_app.inference import ModelError
from medvision_app.inference.card import CARD_HASH_KEY, CARD_KEY, ModelCard
from medvision_app.inference.export import export_module
from medvision_app.inference.hashing import canonical_bytes, graph_sha256, text_sha256
from medvision_app.inference.model import load_model, verify_bytes
from medvision_app.inference.provenance import SIGNED, UNVERIFIED, assess
from medvision_app.inference.registry import SHIPPED_DIR, ModelRegistry, is_path
from medvision_app.inference.shipped_models import SHIPPED_SHA256
from medvision_app.inference.signing import SIGNATURE_KEY, key_path
from medvision_app.utils.config_io import from_dict

DEMO = SHIPPED_DIR / "breastmnist.onnx"


@pytest.fixture(autouse=True)
def medvision_home(tmp_path, monkeypatch):
    home_with_signing_key(monkeypatch, tmp_path / "home")
    monkeypatch.setenv("MEDVISION_DEVICE", "cpu")
    return tmp_path / "home"


@pytest.fixture(scope="module")
def signed_model(tmp_path_factory):
    torch.manual_seed(0)
    images = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    path, _ = export_module(TinyAttentionNet(), tiny_card(), images, tmp_path_factory.mktemp("signed") / "tiny.onnx")
    return path


def _rewrite(data: bytes, *, zero_largest: bool = True, card_name: str | None = None) -> bytes:
    """The attack: change the weights, then make every hash inside the file agree again."""
    model = onnx.load_model_from_string(data)
    if zero_largest:
        largest = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
        largest.CopyFrom(numpy_helper.from_array(np.zeros_like(numpy_helper.to_array(largest)), largest.name))
    props = {p.key: p.value for p in model.metadata_props}
    card = json.loads(props[CARD_KEY])
    if card_name is not None:
        card["name"] = card_name
    del model.metadata_props[:]
    card["graph_sha256"] = graph_sha256(model)
    card_text = from_dict(ModelCard, card).to_json()
    props.update({CARD_KEY: card_text, CARD_HASH_KEY: text_sha256(card_text)})
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return canonical_bytes(model)


def test_every_shipped_file_is_pinned_and_matches():
    files = sorted(SHIPPED_DIR.glob("*.onnx"))
    assert {p.stem for p in files} == set(SHIPPED_SHA256)
    for path in files:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == SHIPPED_SHA256[path.stem], path
    entry = next(e for e in ModelRegistry().list() if e.name == "breastmnist")
    assert entry.ok and entry.provenance == "shipped" and "pinned" in entry.provenance_detail


def test_the_attack_passes_integrity_but_not_provenance(tmp_path):
    forged = _rewrite(DEMO.read_bytes())
    verified = verify_bytes(tmp_path / "x.onnx", forged)  # every hash in the file agrees: integrity is no defence
    assert verified.card.name == "breastmnist"
    # in place of the shipped file: refused, in the listing and when loaded
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "breastmnist.onnx").write_bytes(forged)
    entry = next(e for e in ModelRegistry(shipped=shipped).list() if e.name == "breastmnist")
    assert not entry.ok and entry.provenance is None and "impersonating" in entry.problem
    with pytest.raises(ModelError, match="is named 'breastmnist'.*not that model"):
        load_model(shipped / "breastmnist.onnx")
    # under another file name it still calls itself breastmnist: refused
    (tmp_path / "other.onnx").write_bytes(forged)
    with pytest.raises(ModelError, match="calls itself 'breastmnist'"):
        load_model(tmp_path / "other.onnx")


def test_a_renamed_forgery_is_unverified_and_predict_refuses_it(tmp_path, shared_data, capsys):
    forged = tmp_path / "renamed.onnx"
    forged.write_bytes(_rewrite(DEMO.read_bytes(), card_name="renamed"))
    png = shared_data / "busi-256" / "benign" / "benign (1).png"
    assert main(["predict", str(forged), str(png)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {forged}: unverified origin: not signed")
    assert "--allow-unverified" in err
    assert main(["predict", str(forged), str(png), "--allow-unverified", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[0])["provenance"] == "unverified"
    assert "warning:" in err and "unverified origin" in err
    assert main(["models", "verify", str(forged)]) == 0
    assert "provenance: unverified: unverified origin" in capsys.readouterr().out


def test_a_shipped_name_cannot_be_taken(signed_model, tmp_path, capsys):
    assert main(["models", "import", str(signed_model), "--name", "breastmnist"]) == 2
    assert "name of a model shipped with MedVision" in capsys.readouterr().err
    with pytest.raises(ModelError, match="shipped"):
        ModelRegistry().import_model(DEMO)  # even the shipped file itself: the name stays the shipped folder's
    # a user-folder file of that name (put there by hand) is listed as refused, and never resolved
    user = tmp_path / "home" / "models"
    user.mkdir(parents=True)
    (user / "breastmnist.onnx").write_bytes(signed_model.read_bytes())
    entries = [e for e in ModelRegistry().list() if e.name == "breastmnist"]
    assert [(e.location, e.ok) for e in entries] == [("shipped", True), ("user", False)]
    assert ModelRegistry().resolve("breastmnist") == DEMO


def test_a_name_and_a_path_are_told_apart(tmp_path, monkeypatch, shared_data, capsys):
    assert is_path("x.onnx") and is_path("models/x") and is_path("./x") and not is_path("breastmnist")
    monkeypatch.chdir(tmp_path)
    Path("breastmnist").write_bytes(_rewrite(DEMO.read_bytes(), card_name="cwd"))  # a file in the way
    assert ModelRegistry().resolve("breastmnist") == DEMO
    with pytest.raises(ModelError, match="no registered model of this name"):
        ModelRegistry().resolve("tiny")
    png = shared_data / "busi-256" / "benign" / "benign (1).png"
    assert main(["predict", "breastmnist", str(png), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["provenance"] == "shipped"


def test_exports_are_signed_with_an_owner_only_key(signed_model):
    verified = verify_bytes(signed_model, signed_model.read_bytes())
    assert verified.signature and assess(verified).state == SIGNED
    key = key_path()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    registry = ModelRegistry()
    registry.import_model(signed_model, name="mine")
    entry = next(e for e in registry.list() if e.name == "mine")
    assert entry.provenance == "signed" and "this installation" in entry.provenance_detail


def test_a_signed_model_altered_after_signing_is_unverified(signed_model, tmp_path):
    forged = _rewrite(signed_model.read_bytes())
    verified = verify_bytes(tmp_path / "f.onnx", forged)
    assert SIGNATURE_KEY in {p.key for p in onnx.load_model_from_string(forged).metadata_props}
    provenance = assess(verified)
    assert provenance.state == UNVERIFIED and "altered after it was signed" in provenance.detail


def test_another_installations_signature_is_unverified(signed_model, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "elsewhere"))
    verified = verify_bytes(signed_model, signed_model.read_bytes())
    provenance = assess(verified)
    assert provenance.state == UNVERIFIED and "another installation" in provenance.detail
    assert not key_path().exists()  # checking never makes a key


def test_a_key_others_can_read_is_not_used(signed_model, tmp_path):
    os.chmod(key_path(), 0o644)
    provenance = assess(verify_bytes(signed_model, signed_model.read_bytes()))
    assert provenance.state == UNVERIFIED and "readable by others" in provenance.detail
    images = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    with pytest.raises(ModelError, match="chmod 600"):
        export_module(TinyAttentionNet(), tiny_card(), images, tmp_path / "refused.onnx")
    assert not (tmp_path / "refused.onnx").exists()


def test_models_list_says_which_origin(signed_model, tmp_path, capsys):
    unsigned = tmp_path / "foreign.onnx"
    unsigned.write_bytes(_rewrite(signed_model.read_bytes(), zero_largest=False, card_name="foreign"))
    registry = ModelRegistry()
    registry.import_model(unsigned)  # import does not make a model trusted
    assert main(["models", "list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "UNVERIFIED ORIGIN" in lines["foreign"] and " shipped " in lines["breastmnist"]
    assert main(["models", "list", "--json"]) == 0
    listed = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert listed["foreign"]["provenance"] == "unverified" and listed["breastmnist"]["provenance"] == "shipped"


def test_a_card_change_keeps_this_installations_signature_and_never_signs_a_foreign_model(signed_model, tmp_path,
                                                                                            monkeypatch):
    import shutil

    from medvision_app.inference.card_update import update_card

    ours = tmp_path / "ours.onnx"
    shutil.copyfile(signed_model, ours)
    update_card(ours, threshold=0.3)  # what the dashboard's "save threshold" does
    verified = verify_bytes(ours, ours.read_bytes())
    assert verified.card.threshold == 0.3 and assess(verified).state == SIGNED

    foreign = tmp_path / "foreign.onnx"
    shutil.copyfile(signed_model, foreign)
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "elsewhere"))  # another installation's key, none here
    update_card(foreign, threshold=0.4)
    assert assess(verify_bytes(foreign, foreign.read_bytes())).state == UNVERIFIED
    assert not key_path().exists()  # a card change never makes a key
