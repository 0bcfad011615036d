"""Config abuse (issue 11, item 9): refused before training, in one line naming the key and what is allowed.

Each of these once reached torch (a traceback), fell back silently, or
created a class named ''.
"""

from __future__ import annotations

import shutil

import pytest

from medvision_app.cli import main as cli_main
from medvision_app.data import DataError
from medvision_app.data.csv_sources import read_manifest


@pytest.fixture
def medvision(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ["medvision_app.cli.train_cmds"])
    return cli_main.main


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data]\npath = "nowhere.npz"\n[train]\nepochs = 1\n')
    return path


@pytest.mark.parametrize(("override", "message"), [
    ("train.weight_decay=nan", "train.weight_decay: nan is not a finite number; allowed: 0.0 to 1.0"),
    ("train.eps=-1", "train.eps: -1.0 is out of range; allowed: 0.0 to 1.0"),
    ("train.lr=-inf", "train.lr: -inf is not a finite number; allowed: 0.0 to 10.0"),
    ("train.early_stopping.monitor=bogus", "train.early_stopping.monitor: 'bogus' is not one of "
                                           "['val_loss', 'val_accuracy', 'val_balanced_accuracy', 'val_auc', "
                                           "'train_loss']"),
    ("train.plateau.monitor=bogus", "train.plateau.monitor: 'bogus' is not one of"),
    ("train.optimizer=rmsprop", "train.optimizer: 'rmsprop' is not one of ['adam', 'sgdm']"),
    ("train.batch_size=0", "train.batch_size: 0 is out of range; allowed: 1 to 65536 images"),
])
def test_set_abuse_is_one_error_line_before_anything_runs(medvision, config, tmp_path, capsys, override, message):
    out = tmp_path / "run"
    assert medvision(["train", "--config", str(config), "--set", override, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {config}: {message}") and err.count("\n") == 1
    assert not out.exists()


def test_a_toml_file_gets_the_same_check(medvision, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train.early_stopping]\nmonitor = 'val_f1'\n")
    assert medvision(["train", "--config", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad}: train.early_stopping.monitor: 'val_f1' is not one of")


def _manifest(tmp_path, shared_data, rows: list[tuple[str, str]]):
    images = tmp_path / "images"
    images.mkdir()
    source = sorted((shared_data / "busi-256" / "benign").glob("*.png"))[:1][0]
    for name, _ in rows:
        if name:
            shutil.copyfile(source, images / name)
    csv_path = tmp_path / "manifest.csv"
    csv_path.write_text("path,label\n" + "".join(f"{'images/' + n if n else ''},{label}\n" for n, label in rows))
    return csv_path


def test_a_csv_row_with_an_empty_label_is_refused(tmp_path, shared_data):
    csv_path = _manifest(tmp_path, shared_data, [("a.png", "benign"), ("b.png", ""), ("c.png", "malignant")])
    with pytest.raises(DataError, match=r"manifest.csv: column label is empty on line 3; every row needs a label"):
        read_manifest(csv_path)


def test_a_csv_row_with_an_empty_path_is_refused(tmp_path, shared_data):
    csv_path = _manifest(tmp_path, shared_data, [("a.png", "benign"), ("", "benign"), ("c.png", "malignant")])
    with pytest.raises(DataError, match=r"column path is empty on line 3"):
        read_manifest(csv_path)


def test_empty_label_refused_by_train_in_one_line(medvision, tmp_path, shared_data, capsys):
    csv_path = _manifest(tmp_path, shared_data, [("a.png", "benign"), ("b.png", ""), ("c.png", "malignant"),
                                                 ("d.png", "malignant")])
    config = tmp_path / "csv.toml"
    config.write_text(f'[data]\npath = "{csv_path}"\nformat = "csv"\n[model]\ninput_size = 28\n')
    assert medvision(["train", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {csv_path}: column label is empty on line 3; every row needs a label\n"
    assert not (tmp_path / "run").exists()
