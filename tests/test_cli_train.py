"""``medvision train`` / ``medvision evaluate`` end to end, and the shipped example configs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from medvision_app.cli import main as cli_main
from medvision_app.data import MetadataEncoding
from medvision_app.training.config import TrainConfig
from medvision_app.training.run import resolve_data_path, resume_run
from medvision_app.utils.config_io import dumps, load_config, loads

ROOT = Path(__file__).resolve().parents[1]
# Preprocessing, augmentation and search configs share the folder under their own prefixes.
OTHER_PREFIXES = ("pipeline_", "augment_", "search_")
EXAMPLES = sorted(p for p in (ROOT / "examples" / "configs").glob("*.toml") if not p.name.startswith(OTHER_PREFIXES))


@pytest.fixture
def medvision(monkeypatch):
    # Only this module's commands: the others are not what is under test here.
    assert "medvision_app.cli.train_cmds" in cli_main.COMMAND_MODULES
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ["medvision_app.cli.train_cmds"])
    return cli_main.main


def test_train_then_evaluate_breastmnist(medvision, shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    rc = medvision([
        "train", "--config", str(ROOT / "examples" / "configs" / "breastmnist.toml"),
        "--set", "train.epochs=1", "--set", "data.limit=48", "--set", "train.cpu_threads=1",
        "--set", "model.dense_units=16", "--out", str(run),
    ])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "epoch 1/1" in err  # the progress output goes to stderr
    assert json.loads(out)["epochs"] == 1
    for name in ("config.json", "metrics.jsonl", "eval.json", "predictions.csv",
                 "checkpoints/last.pt", "checkpoints/best.pt"):
        assert (run / name).is_file(), name
    config = load_config(TrainConfig, run / "config.json")
    assert config.run.classes == ["malignant", "normal, benign"]
    assert Path(config.data.path).is_absolute() and config.model.dense_units == 16
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["config"]["run"]["classes"] == config.run.classes
    report = json.loads((run / "eval.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "auc", "confusion_matrix", "per_class", "ci"):
        assert key in report
    rows = list(csv.reader((run / "predictions.csv").open()))
    assert rows[0][:3] == ["id", "true_label", "predicted_label"] and len(rows[0]) == 5
    assert len(rows) - 1 == report["n_samples"] == 48

    (run / "eval.json").unlink()
    assert medvision(["evaluate", str(run)]) == 0
    again = json.loads((run / "eval.json").read_text())
    assert again["confusion_matrix"] == report["confusion_matrix"]
    assert again["auc"] == report["auc"] and again["ci"] == report["ci"]

    assert medvision(["evaluate", str(run), "--split", "val"]) == 0
    assert json.loads((run / "eval.json").read_text())["split"] == "val"

    # a finished run resumes to nothing more to do, and re-evaluates from its checkpoint
    result = resume_run(run)
    assert result.epochs_run == 1 and json.loads((run / "eval.json").read_text())["split"] == "test"


def test_user_errors_are_one_line(medvision, tmp_path, capsys):
    assert medvision(["evaluate", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path}: not a run folder (no config.json)"
    bad = tmp_path / "bad.toml"
    bad.write_text('[data]\npath = "nowhere/at/all"\n[train]\nepochs = 1\n')
    assert medvision(["train", "--config", str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: nowhere/at/all: no such file or folder") and err.count("\n") == 1
    bad.write_text("[train]\nepochs = 0\n")
    assert medvision(["train", "--config", str(bad)]) == 2
    assert capsys.readouterr().err == f"error: {bad}: train.epochs: 0 is out of range; allowed: 1 to 100000 epochs\n"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_configs_load(path, shared_data):
    from medvision_app.networks import available_models

    config = load_config(TrainConfig, path)
    assert config.model.name in available_models()
    if config.data.path.startswith("runs/data/"):
        # made from ../shared/data by a script the config names (the DermaMNIST recipe's manifest)
        from bench.dermamnist_manifest import DERMA, HAM, OUT

        assert "python -m bench.dermamnist_manifest" in path.read_text()
        assert OUT.name == Path(config.data.path).name and DERMA.is_dir() and HAM.is_dir()
        return
    assert config.data.path.startswith("../shared/data/")
    assert resolve_data_path(config.data.path, path).exists()


def test_every_dataset_and_paper_setting_has_an_example():
    names = {p.stem for p in EXAMPLES}
    assert {"alexnet_adam_mias", "squeezenet_sgdm_mias", "pnet_busi", "mobilenetv3_sa_meta_ham10000"} <= names
    assert {"breastmnist", "pneumoniamnist", "dermamnist", "busi", "mini_mias", "ham10000", "mnist"} <= names


def test_manifest_run_skips_and_lists_unreadable_images(medvision, shared_data, tmp_path, capsys):
    busi = shared_data / "busi-256"
    rows = ["path,label,patient_id"]
    for label in ("benign", "malignant"):
        rows += [f"{p},{label},{p.stem}" for p in sorted((busi / label).iterdir())[:8]]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG but not really")
    rows.append(f"{broken},malignant,broken")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    config = tmp_path / "run.toml"
    config.write_text(
        f'[data]\npath = "{manifest}"\non_unreadable = "skip"\n[data.split]\nratios = [0.5, 0.25, 0.25]\n'
        '[model]\nname = "pnet"\ninput_size = 28\nin_channels = 1\ndense_units = 8\n'
        "[train]\nepochs = 1\nbatch_size = 4\ncpu_threads = 1\n"
    )
    run = tmp_path / "run"
    assert medvision(["train", "--config", str(config), "--out", str(run)]) == 0
    assert "1 unreadable image(s) were left out" in capsys.readouterr().err
    skipped = (run / "skipped.csv").read_text().splitlines()
    assert skipped[0] == "path,reason" and skipped[1].startswith(str(broken))
    facts = load_config(TrainConfig, run / "config.json").run
    assert facts.skipped_images == 1
    assert facts.train_samples + facts.val_samples + facts.test_samples == 16
    # patients (here: images) never straddle splits
    ids = [row[0] for row in csv.reader((run / "predictions.csv").open())][1:]
    assert len(ids) == facts.test_samples


def test_missing_pretrained_weights_fail_before_any_image_is_read(medvision, shared_data, tmp_path, monkeypatch, capsys):
    import medvision_app.data.prepare as prepare

    def no_pixels(*args, **kwargs):
        raise AssertionError("images were read before the model was built")

    monkeypatch.setattr(prepare, "_load_pixels", no_pixels)
    missing = tmp_path / "nowhere.pth"
    rc = medvision([
        "train", "--config", str(ROOT / "examples" / "configs" / "alexnet_adam_mias.toml"),
        "--set", f'model.weights_path="{missing}"', "--out", str(tmp_path / "run"),
    ])
    assert rc == 2
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("fmt", ["json", "toml"])
def test_train_config_round_trips(fmt):
    config = load_config(TrainConfig, ROOT / "examples" / "configs" / "mobilenetv3_sa_meta_ham10000.toml")
    config.run.classes = ["a", "b"]
    config.run.metadata_encoding = MetadataEncoding(50.0, 10.0, ["unknown", "male"], ["unknown", "back"])
    again = loads(TrainConfig, dumps(config, fmt), fmt)
    assert again == config
    assert again.train.eps == 0.1 and again.train.plateau.factor == 0.2 and again.data.use_metadata
