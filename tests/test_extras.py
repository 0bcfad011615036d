"""Installable parts: a missing extra ends in one line naming it, and the core works without any of them.

A partial install is simulated in a child process whose ``sitecustomize``
puts a meta-path blocker first: ``import torch`` (or PySide6...) raises
ModuleNotFoundError exactly as it would where the package is not installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from medvision_app import extras

BLOCKER = '''
import os, sys

_BLOCKED = set(filter(None, os.environ.get("MEDVISION_TEST_BLOCK", "").split(",")))


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _Blocker())
'''

TRAIN = ["torch", "torchvision"]
EVERY_EXTRA = ["torch", "torchvision", "PySide6", "shiboken6", "pyqtgraph", "onnxruntime", "ray"]
TRAIN_LINE = "needs the train extra: pip install medvision[train]"


@pytest.fixture(scope="module")
def blocker_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("blocker")
    (folder / "sitecustomize.py").write_text(BLOCKER)
    return folder


def _medvision(blocker_dir: Path, blocked: list[str], *args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(blocker_dir), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["MEDVISION_TEST_BLOCK"] = ",".join(blocked)
    env.pop("QT_QPA_PLATFORM", None)
    return subprocess.run([sys.executable, "-m", "medvision_app", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def _one_error_line(done: subprocess.CompletedProcess, expected: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in done.stderr


def test_the_blocker_really_blocks(blocker_dir, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(blocker_dir), MEDVISION_TEST_BLOCK="torch")
    done = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr


@pytest.mark.parametrize("args", [
    ["train", "--config", "examples/configs/breastmnist.toml"],
    ["search", "--method", "bbnas", "--data", "nowhere"],
    ["export", "runs/none"],
    ["evaluate", "runs/none"],
    ["jobs", "resume", "1"],
])
def test_torch_missing_names_the_train_extra(blocker_dir, args):
    root = Path(__file__).resolve().parents[1]
    done = _medvision(blocker_dir, TRAIN, *args, cwd=root)
    _one_error_line(done, TRAIN_LINE)


def test_core_only_info_and_render_work(blocker_dir, tmp_path):
    from pydicom.data import get_testdata_file

    ct = get_testdata_file("CT_small.dcm", download=False)
    assert ct, "pydicom's bundled CT_small.dcm is missing"
    info = _medvision(blocker_dir, EVERY_EXTRA, "info", ct, "--json", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert (facts["rows"], facts["columns"], facts["photometric_interpretation"]) == (128, 128, "MONOCHROME2")
    out = tmp_path / "ct.png"
    render = _medvision(blocker_dir, EVERY_EXTRA, "render", ct, out, cwd=tmp_path)
    assert render.returncode == 0, render.stderr
    from PIL import Image

    with Image.open(out) as png:
        assert png.size == (128, 128)
        assert png.getextrema()[0] < png.getextrema()[1]  # a real image, not a blank


def test_core_only_names_each_missing_part(blocker_dir, tmp_path):
    from pydicom.data import get_testdata_file

    ct = get_testdata_file("CT_small.dcm", download=False)
    _one_error_line(_medvision(blocker_dir, EVERY_EXTRA, "gui", cwd=tmp_path),
                    "the workstation needs the gui extra: pip install medvision[gui]")
    _one_error_line(_medvision(blocker_dir, EVERY_EXTRA, ct, cwd=tmp_path), "needs the gui extra")  # medvision PATH
    _one_error_line(_medvision(blocker_dir, EVERY_EXTRA, "predict", "breastmnist", ct, cwd=tmp_path),
                    "predicting needs an ONNX runtime: pip install medvision[cpu]")


def test_an_unforeseen_import_of_an_extra_is_one_line(monkeypatch, capsys):
    """The last line of defence in main(): an ImportError of an extra's module from a command not in the table."""
    import argparse

    from medvision_app.cli import main as cli_main

    def failing(_args):
        raise ModuleNotFoundError("No module named 'ray'", name="ray")

    def parser():
        p = argparse.ArgumentParser(prog="medvision")
        p.add_argument("-v", "--verbose", action="store_true")
        sub = p.add_subparsers(dest="command")
        sub.add_parser("thing").set_defaults(func=failing)
        return p

    monkeypatch.setattr(cli_main, "build_parser", parser)
    monkeypatch.setattr(extras, "available", lambda name: name != "cluster")
    assert cli_main.main(["thing"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: searching on a Ray cluster needs the cluster extra: pip install medvision[cluster]"


def test_other_import_errors_are_not_disguised(monkeypatch):
    assert extras.explain_import_error(ModuleNotFoundError("No module named 'numpy'", name="numpy")) is None
    monkeypatch.setattr(extras, "available", lambda name: False)
    assert "train extra" in extras.explain_import_error(ModuleNotFoundError("x", name="torch.nn"))


def test_a_broken_part_that_is_installed_is_not_called_missing(monkeypatch):
    """PySide6 is here but PySide6.QtOpenGL is not (a build that left it out): a bug to show, not an extra to install."""
    monkeypatch.setattr(extras, "available", lambda name: True)
    assert extras.explain_import_error(ModuleNotFoundError("x", name="PySide6.QtOpenGL")) is None


def test_frozen_build_does_not_tell_to_pip_install_into_itself(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    text = extras.message("train", "training")
    assert "reader build leaves out" in text and "medvision[gui,train]" in text


def test_blocked_module_counts_as_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyqtgraph", None)  # Python's own marker for "import fails"
    assert extras.missing("gui") == ["pyqtgraph"]
    with pytest.raises(extras.MissingExtra, match=r"the workstation needs the gui extra: pip install medvision\[gui\]"):
        extras.require("gui", "the workstation")
