"""ONNX export: one file, numerically equal to PyTorch, card embedded and verified."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from inference_support import TinyAttentionNet, TinyCnn, breastmnist_batch, tiny_card

from medvision_app.inference import ModelError, load_model
from medvision_app.inference.card import CARD_KEY
from medvision_app.inference.export import _ProbabilityGraph, export_module
from medvision_app.inference.model import card_path_for


@pytest.fixture(scope="module")
def exported(tmp_path_factory, shared_data):
    torch.manual_seed(0)
    net = TinyAttentionNet()
    images, _ = breastmnist_batch(shared_data)
    out = tmp_path_factory.mktemp("export") / "tiny.onnx"
    path, diffs = export_module(net, tiny_card(), images, out)
    return net, images, path, diffs


def test_export_writes_one_file_with_card(exported):
    net, images, path, diffs = exported
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.card.json", "tiny.onnx"]
    assert diffs["probabilities"] <= 1e-4
    model = onnx.load(path)
    props = {p.key: p.value for p in model.metadata_props}
    embedded = json.loads(props[CARD_KEY])
    assert embedded == json.loads(card_path_for(path).read_text())
    assert embedded["classes"] == ["malignant", "benign"]
    assert len(embedded["graph_sha256"]) == 64


def test_onnx_equals_pytorch_on_real_images_any_batch(exported):
    net, images, path, _ = exported
    model = load_model(path)
    assert model.provider == "CPUExecutionProvider"
    graph = _ProbabilityGraph(net.eval(), False, True)
    with torch.no_grad():
        ref_probs, ref_maps = graph(torch.from_numpy(images))
    for batch in (1, 3, 8):
        got = model.session.run({"image": images[:batch]})
        np.testing.assert_allclose(got["probabilities"].sum(axis=1), 1.0, atol=1e-5)
        assert np.max(np.abs(got["probabilities"] - ref_probs[:batch].numpy())) <= 1e-4
        # the attention maps from ONNX are those of the PyTorch module
        assert got["attention"].shape == (batch, 4, 28, 28)
        assert np.max(np.abs(got["attention"] - ref_maps[:batch].numpy())) <= 1e-6


def test_network_without_attention_exports_probabilities_only(tmp_path, shared_data):
    images, _ = breastmnist_batch(shared_data, 4)
    path, _ = export_module(TinyCnn(), tiny_card(attention=False), images, tmp_path / "cnn.onnx")
    model = load_model(path)
    assert model.session.output_names == ["probabilities"]
    assert not model.has_attention


def test_metadata_input_is_exported(tmp_path, shared_data):
    images, _ = breastmnist_batch(shared_data, 4)
    meta = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    net = TinyAttentionNet(metadata_features=3)
    path, diffs = export_module(net, tiny_card(metadata_features=3), images, tmp_path / "meta.onnx", metadata=meta)
    got = load_model(path).session.run({"image": images, "metadata": meta})
    with torch.no_grad():
        ref = torch.softmax(net.eval()(torch.from_numpy(images), torch.from_numpy(meta)), dim=1).numpy()
    assert np.max(np.abs(got["probabilities"] - ref)) <= 1e-4


class _Drifting(torch.nn.Module):
    """Python-side behaviour the tracer cannot capture: the graph differs from eager PyTorch."""

    def __init__(self):
        super().__init__()
        self.inner = TinyCnn()

    def forward(self, x):
        return self.inner(x) * (1.0 if torch.jit.is_tracing() else 50.0)


def test_export_differing_from_pytorch_is_refused_and_nothing_written(tmp_path, shared_data):
    images, _ = breastmnist_batch(shared_data, 4)
    out = tmp_path / "drift.onnx"
    with pytest.raises(ModelError, match="export refused: .*differs from PyTorch"):
        export_module(_Drifting(), tiny_card(attention=False), images, out)
    assert not out.exists()


def test_card_disagreeing_with_network_is_refused(tmp_path, shared_data):
    images, _ = breastmnist_batch(shared_data, 2)
    with pytest.raises(ModelError, match="check images have shape"):
        export_module(TinyCnn(), tiny_card(attention=False, size=(32, 32)), images, tmp_path / "x.onnx")
    with pytest.raises(ModelError, match="attention"):
        export_module(TinyCnn(), tiny_card(attention=True), images, tmp_path / "x.onnx")
