"""A search's retrained model is an ordinary run: registered networks, evaluate and export on its folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medvision_app.networks import ModelConfig, SearchedArchitecture, build_model
from medvision_app.networks.builder import build, count_parameters
from medvision_app.networks.enas_space import SHAPES, Arc, CellNetwork
from medvision_app.networks.genotype import parse
from medvision_app.utils.config_io import ConfigError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TABLE_III_M = "C(64,3) P(1,1) IB(32,64,128,16,32,32) P(1,1) F() FC(10)"
ARC = ("N[(0,sep5,0,avg3) (1,avg3,2,max3) (0,sep3,0,avg3) (3,identity,3,sep3) (2,avg3,4,avg3)] "
       "R[(1,sep3,0,max3) (1,identity,2,sep3) (2,identity,1,sep3) (3,avg3,2,sep3) (1,max3,0,avg3)]")


def _genotype_model(text: str, classes: int = 10, **fields):
    return build_model(ModelConfig(name="genotype", in_channels=1, input_size=28,
                                   architecture=SearchedArchitecture(text=text), **fields), classes)


@pytest.mark.parametrize("text", [TABLE_III_M, "C(8,3) P(2,2) C(8,1) Concat() F() FC(16) FC(10)",
                                  "C(16,3) P(1,1) SEIB(8,8,16,4,8,8) P(2,2) F() FC(10)"])
def test_registered_genotype_network_matches_the_search_builder(text):
    model = _genotype_model(text)
    genotype = parse(text)
    assert sum(p.numel() for p in model.parameters()) == count_parameters(genotype, (1, 28, 28))
    # the same function as the search's network, once the weights are carried over in layer order
    reference = build(genotype, (1, 28, 28)).eval()
    with torch.no_grad():
        for mine, theirs in zip(model.parameters(), reference.parameters(), strict=False):
            mine.copy_(theirs)
    x = torch.rand(3, 1, 28, 28)
    assert torch.allclose(model.eval()(x), reference(x), atol=1e-5)


def test_genotype_classifier_takes_the_class_count_and_a_feature_map_for_explainers():
    model = _genotype_model(TABLE_III_M, classes=3)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 3)
    assert model.features(torch.rand(2, 1, 28, 28)).shape == (2, 224, 26, 26)
    attention = _genotype_model(TABLE_III_M, classes=3, soft_attention=True, attention_maps=4)
    logits, maps = attention.forward_with_attention(torch.rand(2, 1, 28, 28))
    assert logits.shape == (2, 3) and maps.shape == (2, 4, 26, 26)  # 32 + 128 + 32 + 32 channels


@pytest.mark.parametrize("text, where", [("", "model.architecture.text"), ("C(64,3) F()", "FC"),
                                          ("C(64,40) F() FC(2)", "does not fit"), ("X(1)", "unknown layer kind")])
def test_bad_genotype_is_a_config_error_naming_the_key(text, where):
    with pytest.raises(ConfigError, match="model.architecture") as info:
        _genotype_model(text)
    assert where in str(info.value)


def test_enas_arc_round_trips_through_its_printed_form():
    arc = Arc.parse(ARC)
    assert str(arc) == ARC
    assert Arc.parse(str(arc).replace(" ", "  ")) == arc
    for bad in ("N[(0,conv7,1,avg3)] R[(0,sep3,1,avg3)]", "N[(0,sep3,4,avg3)] R[(0,sep3,1,avg3)]", "N[] R[]", "nonsense"):
        with pytest.raises(ValueError):
            Arc.parse(bad)


def test_registered_enas_network_has_the_final_networks_parameters():
    arch = SearchedArchitecture(text=ARC, layout=SHAPES["enas-7"], channels=8)
    model = build_model(ModelConfig(name="enas", in_channels=1, input_size=28, architecture=arch), 2)
    reference = CellNetwork(SHAPES["enas-7"], 1, 2, 8, arc=Arc.parse(ARC))
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 2)
    with pytest.raises(ConfigError, match="layout"):
        build_model(ModelConfig(name="enas", in_channels=1, input_size=28,
                                architecture=SearchedArchitecture(text=ARC)), 2)


def _npz(path: Path, size: int = 12) -> Path:
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 48), ("val", 16), ("test", 24)):
        y = np.arange(n) % 2
        x = (rng.random((n, size, size)) * 80).astype(np.uint8)
        x[y == 1, 3:9, 3:9] += 150
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = x, y.reshape(-1, 1)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("method", ["bbnas", "enas"])
def test_search_result_folder_evaluates_and_exports_like_a_training_run(tmp_path, method, capsys):
    from medvision_app.cli.main import main
    from medvision_app.search import SearchConfig, start_search
    from medvision_app.search.config import CandidateTraining, EnasSettings, FinalTraining

    data = _npz(tmp_path / "tiny.npz")
    cfg = SearchConfig(method=method, data=str(data), children_per_iteration=1, max_iterations=1, seed=3,
                       candidate=CandidateTraining(max_epochs=1, batch_size=16),
                       final=FinalTraining(epochs=2, batch_size=16),
                       enas=EnasSettings(channels=4, layers_per_stage=1, controller_steps=2, batch_size=16, epochs=1,
                                         derive_samples=2, final_channels=4, final_shapes=["enas-7"],
                                         final_epochs=2))
    summary = start_search(cfg, tmp_path / "search")
    run_dir = Path(summary["final"]["run_dir"])
    searched = json.loads((run_dir / "eval.json").read_text())

    assert main(["evaluate", str(run_dir)]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # the test split read again through the data package gives the search's own evaluation
    assert again["accuracy"] == pytest.approx(searched["accuracy"])
    assert again["auc"] == pytest.approx(searched["auc"])

    out = tmp_path / "searched.onnx"
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    assert out.is_file() and "exported" in capsys.readouterr().out
    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"]["name"] == ("enas" if method == "enas" else "genotype")
    assert config["model"]["architecture"]["text"] == (summary["result"].get("arc_text") or summary["result"]["genotype"])


def test_search_arrays_have_ordinary_strides(tmp_path):
    from medvision_app.search.data import load_search_data

    # A zero stride on the channel axis (the x[:, None] view) made oneDNN's
    # convolution weight gradient corrupt the heap: every array and every
    # slice of it must have the strides of a fresh C-ordered array.
    data = load_search_data(_npz(tmp_path / "tiny.npz"), seed=0)
    for x in (data.x_train, data.x_val[:5], data.x_test[3:9]):
        assert x.strides == np.empty(x.shape, np.float32).strides


@pytest.mark.parametrize("name", ["genotype", "enas"])
def test_grad_cam_explains_searched_networks(name):
    from medvision_app.explanation import gradcam_explainer

    arch = (SearchedArchitecture(text="C(8,3) P(1,1) IB(4,4,8,2,4,4) P(2,2) F() FC(2)") if name == "genotype"
            else SearchedArchitecture(text=ARC, layout=SHAPES["enas-7"], channels=4))
    torch.manual_seed(0)  # Grad-CAM of an untrained net is all zero for some initial weights
    model = build_model(ModelConfig(name=name, in_channels=1, input_size=28, architecture=arch), 2).eval()
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 4:12, 16:24] = 1.0
    heatmap = gradcam_explainer(model)(image, 1)
    assert heatmap.shape == (28, 28) and np.isfinite(heatmap).all() and heatmap.max() > 0


def test_the_final_retraining_can_use_more_training_images_than_the_search(tmp_path):
    from jobs_support import tiny_npz

    from medvision_app.search import SearchConfig, start_search
    from medvision_app.search.config import CandidateTraining, FinalTraining

    cfg = SearchConfig(method="bbnas", data=str(tiny_npz(tmp_path / "tiny.npz")), children_per_iteration=1,
                       max_iterations=1, seed=5, inherit=False, device="cpu", train_limit=12,
                       candidate=CandidateTraining(max_epochs=1, patience=1, batch_size=16),
                       final=FinalTraining(epochs=1, batch_size=16, train_limit=0))
    start_search(cfg, tmp_path / "search")
    run = json.loads((tmp_path / "search" / "final" / "config.json").read_text())["run"]
    # the search trained on 12 of the 32 training images, its answer on all 32; validation unchanged (16)
    assert run["train_samples"] == 32 and run["val_samples"] == 16


def test_a_retraining_folder_resumes_the_same_settings_and_refuses_other_ones(tmp_path):
    from jobs_support import tiny_npz

    from medvision_app.search.data import load_search_data
    from medvision_app.search.final import retrain_and_evaluate
    from medvision_app.search.state import SearchStateError

    path = tiny_npz(tmp_path / "tiny.npz")
    data = load_search_data(str(path), seed=0)
    model = ModelConfig(name="genotype", in_channels=1, input_size=data.x_train.shape[-1],
                        architecture=SearchedArchitecture(text="C(4,3) P(2,2) F() FC(8)"))
    folder = tmp_path / "final"

    def retrain(**kw):
        opts = dict(epochs=2, patience=2, batch_size=16, device="cpu", seed=0)
        opts.update(kw)
        return retrain_and_evaluate(model, data, str(path), folder, **opts)

    first = retrain()
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    again = retrain()  # the same settings: the finished run is picked up, not trained again
    assert (folder / "metrics.jsonl").read_text().splitlines() == lines and again["accuracy"] == first["accuracy"]
    config = (folder / "config.json").read_text()
    with pytest.raises(SearchStateError, match=r"other train settings.*another folder"):
        retrain(lr=0.01)
    assert (folder / "config.json").read_text() == config  # the finished run's record is left as it was
