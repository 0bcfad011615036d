"""Damaged and concurrent run folders (issue 11, items 7 and 8): each case once raised a traceback or mixed two runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from medvision_app.cli import main as cli_main
from medvision_app.training import RunStarted, Trainer, TrainingError, TrainSettings
from medvision_app.training.checkpoints import CheckpointError, read_checkpoint
from medvision_app.training.config import TrainConfig
from medvision_app.training.events import CheckpointRecovered
from medvision_app.training.run import evaluate_run, resume_run, start_run
from medvision_app.utils.config_io import from_dict
from medvision_app.utils.folder_lock import FolderBusy, folder_lock

ROOT = Path(__file__).resolve().parents[1]


def _config(data: Path, epochs: int = 2) -> TrainConfig:
    return from_dict(TrainConfig, {
        "data": {"path": str(data), "limit": 48},
        "model": {"name": "pnet", "input_size": 28, "in_channels": 1, "dense_units": 8},
        "train": {"epochs": epochs, "batch_size": 16, "seed": 0, "device": "cpu", "cpu_threads": 1,
                  "early_stopping": {"enabled": False}},
    })


@pytest.fixture(scope="module")
def finished_run(shared_data, tmp_path_factory, one_torch_thread):
    """A two-epoch run, copied by each test that damages it."""
    run = tmp_path_factory.mktemp("runs") / "run"
    start_run(_config(shared_data / "breastmnist" / "breastmnist.npz"), run)
    return run


@pytest.fixture
def run_copy(finished_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(finished_run, target)
    return target


@pytest.fixture
def medvision(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ["medvision_app.cli.train_cmds"])
    return cli_main.main


def _events(kind):
    seen = []
    return seen, lambda e: seen.append(e) if isinstance(e, kind) else None


# -- item 8: damaged checkpoints and logs -----------------------------------------------------------

def test_checkpoints_keep_the_previous_epoch(finished_run):
    ckpt = finished_run / "checkpoints"
    assert read_checkpoint(ckpt / "last.pt")["epoch"] == 2
    assert read_checkpoint(ckpt / "previous.pt")["epoch"] == 1


@pytest.mark.parametrize("damage", [b"", os.urandom(4096), b"PK\x03\x04 truncated zip"])
def test_a_damaged_checkpoint_is_a_clear_error(tmp_path, damage):
    path = tmp_path / "last.pt"
    path.write_bytes(damage)
    with pytest.raises(CheckpointError, match=str(path)):
        read_checkpoint(path)
    trainer = Trainer(torch.nn.Linear(2, 2), _Data(), settings=TrainSettings(epochs=1, device="cpu"))
    with pytest.raises(TrainingError, match="last.pt"):
        trainer.resume(path)


def test_truncated_last_checkpoint_falls_back_to_the_previous_one(run_copy):
    last = run_copy / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    notices, emit = _events(CheckpointRecovered)
    starts, on_start = _events(RunStarted)
    result = resume_run(run_copy, emit=lambda e: (emit(e), on_start(e)))
    assert [n.damaged for n in notices] == [str(last)]
    assert notices[0].using.endswith("previous.pt") and "using" in notices[0].message
    assert starts[0].start_epoch == 1 and result.epochs_run == 2
    epochs = [json.loads(line)["epoch"] for line in (run_copy / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]
    assert read_checkpoint(last)["epoch"] == 2


def test_every_checkpoint_damaged_restarts_from_epoch_one(run_copy):
    for name in ("last.pt", "previous.pt"):
        (run_copy / "checkpoints" / name).write_bytes(os.urandom(1000))
    notices, emit = _events(CheckpointRecovered)
    starts, on_start = _events(RunStarted)
    resume_run(run_copy, emit=lambda e: (emit(e), on_start(e)))
    assert len(notices) == 2 and notices[-1].using == "" and "epoch 1" in notices[-1].message
    assert starts[0].start_epoch == 0


def test_run_killed_in_its_first_epoch_resumes_from_epoch_one(run_copy, finished_run):
    shutil.rmtree(run_copy / "checkpoints")
    (run_copy / "metrics.jsonl").write_text('{"epoch": 1, "train_l')  # torn mid-line by the kill
    (run_copy / "eval.json").unlink()
    starts, on_start = _events(RunStarted)
    result = resume_run(run_copy, emit=on_start)
    assert starts[0].start_epoch == 0 and result.epochs_run == 2
    # the same seed from the same start: the same run as the one never killed
    got = json.loads((run_copy / "eval.json").read_text())
    want = json.loads((finished_run / "eval.json").read_text())
    assert got["confusion_matrix"] == want["confusion_matrix"] and got["auc"] == want["auc"]


def test_a_torn_last_metrics_line_is_dropped_on_resume(run_copy):
    log = run_copy / "metrics.jsonl"
    lines = log.read_text().splitlines()
    log.write_text(lines[0] + "\n" + lines[1][:17])  # epoch 2 cut mid-line
    (run_copy / "checkpoints" / "last.pt").unlink()  # resume from previous.pt (epoch 1)
    resume_run(run_copy)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]


def test_evaluate_with_a_truncated_best_checkpoint_uses_the_last_with_a_warning(run_copy, medvision, capsys):
    best = run_copy / "checkpoints" / "best.pt"
    best.write_bytes(best.read_bytes()[:100])
    assert medvision(["evaluate", str(run_copy)]) == 0
    err = capsys.readouterr().err
    assert f"warning: {best}: damaged or not a checkpoint" in err and "last.pt instead" in err
    for name in ("best.pt", "last.pt", "previous.pt"):
        (run_copy / "checkpoints" / name).write_bytes(b"")
    with pytest.raises(TrainingError, match="no usable checkpoint"):
        evaluate_run(run_copy)


# -- item 7: one job per folder ---------------------------------------------------------------------

def test_a_second_job_on_a_locked_run_folder_fails_at_once(run_copy, medvision, capsys):
    with folder_lock(run_copy):
        with pytest.raises(FolderBusy, match=f"{run_copy}: in use by process {os.getpid()}"):
            resume_run(run_copy)
        assert medvision(["train", "--resume", str(run_copy)]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {run_copy}: in use by process {os.getpid()} (another job is writing to this " \
                      "folder); wait for it to finish or choose another folder\n"
        with pytest.raises(FolderBusy):
            evaluate_run(run_copy)
    assert read_checkpoint(run_copy / "checkpoints" / "last.pt")["epoch"] == 2


def test_a_new_run_into_a_busy_folder_fails_before_reading_data(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    with folder_lock(folder):
        with pytest.raises(FolderBusy, match=str(os.getpid())):
            start_run(_config(tmp_path / "no-such-data.npz"), folder)  # no data read: the lock comes first


def test_the_lock_dies_with_its_holder(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    code = textwrap.dedent(f"""
        import sys, time
        from medvision_app.utils.folder_lock import folder_lock
        with folder_lock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(FolderBusy, match=f"process {child.pid}"):
            with folder_lock(folder):
                pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    with folder_lock(folder):  # SIGKILL left a .lock file but no lock
        pass


def test_search_folders_are_locked_too(tmp_path):
    from medvision_app.search import resume_search, start_search
    from medvision_app.search.config import SearchConfig

    folder = tmp_path / "search"
    folder.mkdir()
    with folder_lock(folder):
        with pytest.raises(FolderBusy):
            resume_search(folder)
        with pytest.raises(FolderBusy):
            start_search(SearchConfig(data=str(tmp_path / "data.npz")), folder)


# -- item 9: --out naming a file ---------------------------------------------------------------------

def test_out_naming_a_file_is_refused_in_one_line(tmp_path, medvision, capsys, shared_data):
    config = tmp_path / "c.toml"
    config.write_text(f'[data]\npath = "{shared_data / "breastmnist" / "breastmnist.npz"}"\n')
    target = tmp_path / "taken"
    target.write_text("not a folder")
    assert medvision(["train", "--config", str(config), "--out", str(target)]) == 2
    assert capsys.readouterr().err == f"error: {target}: is a file, not a run folder; choose another --out\n"
    assert target.read_text() == "not a folder"


# -- the search's own loop reads its checkpoints as data --------------------------------------------

_UNPICKLED = []


def _record(value):
    _UNPICKLED.append(value)
    return value


class _Payload:
    def __reduce__(self):
        return (_record, ("code ran",))


def test_search_final_retraining_checkpoint_is_loaded_weights_only(tmp_path):
    import numpy as np

    from medvision_app.networks import ModelConfig, SearchedArchitecture
    from medvision_app.search.data import SearchData
    from medvision_app.search.final import retrain_and_evaluate

    rng = np.random.default_rng(0)
    x = rng.random((8, 1, 8, 8), dtype=np.float32)
    y = (np.arange(8) % 2).astype(np.int64)
    data = SearchData(x, y, x, y, x, y, ["a", "b"])
    model = ModelConfig(name="genotype", pretrained="none", input_size=8, in_channels=1,
                        architecture=SearchedArchitecture(text="C(2,3) F() FC(2)"))
    run_dir = tmp_path / "final"
    (run_dir / "checkpoints").mkdir(parents=True)
    torch.save({"format": 1, "model": {}, "state": _Payload()}, run_dir / "checkpoints" / "last.pt")
    report = retrain_and_evaluate(model, data, str(tmp_path), run_dir, epochs=1, patience=1, batch_size=4,
                                  device="cpu")
    assert _UNPICKLED == [] and report["epochs"] == 1  # refused, and the retraining ran from its first epoch


class _Data:
    labels = torch.tensor([0, 1])

    def __len__(self):
        return 2


def test_export_of_a_damaged_checkpoint_is_one_error_line(run_copy, monkeypatch, capsys):
    monkeypatch.setattr(cli_main, "COMMAND_MODULES", ["medvision_app.cli.model_cmds"])
    best = run_copy / "checkpoints" / "best.pt"
    best.write_bytes(os.urandom(2048))
    assert cli_main.main(["export", str(run_copy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {best}: damaged or not a checkpoint") and err.count("\n") == 1
