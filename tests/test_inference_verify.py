"""A model file is verified on every load: tampered, truncated or mismatched files are refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from inference_support import TinyAttentionNet, breastmnist_batch, tiny_card

from medvision_app.inference import ModelError, load_model, verify_model
from medvision_app.inference.card import CARD_HASH_KEY, CARD_KEY
from medvision_app.inference.export import export_module
from medvision_app.inference.hashing import canonical_bytes, graph_sha256, text_sha256
from medvision_app.inference.model import card_path_for


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, shared_data):
    torch.manual_seed(1)
    images, _ = breastmnist_batch(shared_data, 4)
    path, _ = export_module(TinyAttentionNet(), tiny_card(), images, tmp_path_factory.mktemp("m") / "tiny.onnx")
    return path


def _copy_onnx_only(src, dst_dir):
    dst = dst_dir / src.name
    shutil.copyfile(src, dst)
    return dst


def _rewrite(path, mutate):
    model = onnx.load(path)
    mutate(model)
    path.write_bytes(canonical_bytes(model))


def _rewrite_card(path, **changes):
    """Change embedded card fields and re-seal the card's own hash, so only the change is wrong."""

    def mutate(model):
        props = {p.key: p.value for p in model.metadata_props}
        card = json.loads(props[CARD_KEY])
        card.update(changes)
        text = json.dumps(card)
        del model.metadata_props[:]
        model.metadata_props.add(key=CARD_KEY, value=text)
        model.metadata_props.add(key=CARD_HASH_KEY, value=text_sha256(text))

    _rewrite(path, mutate)


def test_model_travels_alone_and_verifies(model_file, tmp_path):
    alone = _copy_onnx_only(model_file, tmp_path)
    card = verify_model(alone).card
    assert card.graph_sha256 == graph_sha256(onnx.load(alone))
    assert load_model(alone).card.classes == ["malignant", "benign"]


def test_hash_ignores_metadata_but_covers_weights(model_file):
    model = onnx.load(model_file)
    bare = graph_sha256(model)
    model.metadata_props.add(key="x", value="y")
    assert graph_sha256(model) == bare
    raw = bytearray(model.graph.initializer[0].raw_data)
    raw[0] ^= 1
    model.graph.initializer[0].raw_data = bytes(raw)
    assert graph_sha256(model) != bare


def _weight_offset(data: bytes, model: onnx.ModelProto) -> int:
    weights = next(t for t in model.graph.initializer if len(t.raw_data) >= 16).raw_data
    return data.index(weights) + len(weights) // 2


@pytest.mark.parametrize("where", ["weights", "card", "graph", "several"])
def test_one_changed_byte_is_refused(model_file, tmp_path, where):
    path = _copy_onnx_only(model_file, tmp_path)
    data = bytearray(path.read_bytes())
    model = onnx.load_model_from_string(bytes(data))
    if where == "weights":
        offsets = [_weight_offset(bytes(data), model)]
    elif where == "card":
        offsets = [bytes(data).index(b'"malignant"') + 3]
    elif where == "graph":
        offsets = [bytes(data).index(b"Softmax") + 1]
    else:
        offsets = list(np.random.default_rng(7).integers(0, len(data), size=25))
    for offset in offsets:
        changed = bytearray(data)
        changed[offset] ^= 0x01
        path.write_bytes(bytes(changed))
        with pytest.raises(ModelError) as err:
            load_model(path)
        assert err.value.path == path
        assert str(err.value).startswith(str(path))


def test_truncated_and_empty_files_are_refused(model_file, tmp_path):
    path = _copy_onnx_only(model_file, tmp_path)
    data = path.read_bytes()
    for size in (len(data) - 1, len(data) // 2, 10):
        path.write_bytes(data[:size])
        with pytest.raises(ModelError):
            load_model(path)
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        load_model(path)


def test_card_mismatching_the_graph_is_refused(model_file, tmp_path):
    path = _copy_onnx_only(model_file, tmp_path)

    _rewrite_card(path, classes=["a", "b", "c"])
    with pytest.raises(ModelError, match="card lists 3 classes but the graph outputs"):
        load_model(path)


def test_card_input_size_mismatch_is_refused(model_file, tmp_path):
    path = _copy_onnx_only(model_file, tmp_path)

    _rewrite_card(path, input_size=[32, 32])
    with pytest.raises(ModelError, match=r"card says input \[1, 32, 32\]"):
        load_model(path)


def test_side_card_differing_from_embedded_is_refused(model_file, tmp_path):
    path = _copy_onnx_only(model_file, tmp_path)
    card = json.loads(card_path_for(model_file).read_text())
    card["metrics"]["auc"]["value"] = 0.99
    card_path_for(path).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="differs from the one embedded"):
        load_model(path)


def test_model_without_card_and_with_external_weights_is_refused(model_file, tmp_path):
    path = _copy_onnx_only(model_file, tmp_path)
    _rewrite(path, lambda m: m.metadata_props.__delitem__(slice(None)))
    with pytest.raises(ModelError, match="no MedVision model card"):
        load_model(path)

    external = tmp_path / "external.onnx"
    model = onnx.load(model_file)
    onnx.save_model(model, external, save_as_external_data=True, location="external.onnx.data", size_threshold=0)
    external.write_bytes(canonical_bytes(onnx.load(external, load_external_data=False)))
    with pytest.raises(ModelError, match="outside the file"):
        load_model(external)


def test_missing_file_is_refused_with_its_name(tmp_path):
    with pytest.raises(ModelError, match="nope.onnx: cannot read"):
        load_model(tmp_path / "nope.onnx")


def test_card_with_invalid_preprocessing_is_refused_at_export_and_load(model_file, tmp_path, shared_data):
    images, _ = breastmnist_batch(shared_data, 2)
    card = tiny_card(preprocessing={"steps": [{"op": "no_such_op"}]})
    with pytest.raises(ModelError, match="preprocessing is invalid"):
        export_module(TinyAttentionNet(), card, images, tmp_path / "refused.onnx")
    assert not (tmp_path / "refused.onnx").exists()

    path = _copy_onnx_only(model_file, tmp_path)

    _rewrite_card(path, preprocessing={"steps": [{"op": "no_such_op"}]})
    with pytest.raises(ModelError, match="preprocessing is invalid"):
        load_model(path)
