"""``medvision search``: argument handling and the one-line user errors."""

from __future__ import annotations

import argparse

import pytest

from medvision_app.cli import search_cmds
from medvision_app.cli.main import CliError


def _parse(argv):
    parser = argparse.ArgumentParser()
    search_cmds.register(parser.add_subparsers())
    return parser.parse_args(argv)


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("1h30m", 5400), ("90s", 90), ("45", 45), ("0.5h", 1800)])
def test_parse_duration(text, seconds):
    assert search_cmds.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "10x", "m"])
def test_parse_duration_rejects(text):
    with pytest.raises(CliError, match="budget"):
        search_cmds.parse_duration(text)


def test_missing_data_is_a_user_error(tmp_path):
    args = _parse(["search", "--method", "bbnas", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "s")])
    with pytest.raises(CliError, match="no such file"):
        args.func(args)


def test_resume_of_a_non_search_folder_is_a_user_error(tmp_path):
    args = _parse(["search", "--resume", str(tmp_path)])
    with pytest.raises(CliError, match="state.json"):
        args.func(args)


def test_config_and_overrides_build_the_search_config(tmp_path):
    (tmp_path / "data.npz").write_bytes(b"")
    config = tmp_path / "c.toml"
    config.write_text('method = "se-bbnas"\nseed = 3\n[candidate]\nmax_epochs = 4\n')
    args = _parse(["search", "--config", str(config), "--data", str(tmp_path / "data.npz"), "--budget", "2m",
                   "--max-iterations", "5", "--workers", "2", "--set", "candidate.batch_size=32"])
    cfg = search_cmds._config(args)
    assert (cfg.method, cfg.seed, cfg.block) == ("se-bbnas", 3, "SEIB")
    assert (cfg.candidate.max_epochs, cfg.candidate.batch_size) == (4, 32)
    assert (cfg.budget_seconds, cfg.max_iterations, cfg.workers) == (120, 5, 2)


def test_main_prints_one_error_line_and_exits_2(tmp_path, capsys):
    from medvision_app.cli.main import main

    assert main(["search", "--method", "enas", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "missing" in err[0]


@pytest.mark.parametrize("name", ["search_bbnas_mnist", "search_se_bbnas_mnist", "search_se_bbnas_breastmnist",
                                  "search_enas_breastmnist"])
def test_example_configs_load(name):
    from pathlib import Path

    from medvision_app.search.config import SearchConfig
    from medvision_app.utils.config_io import load_config

    cfg = load_config(SearchConfig, Path(__file__).resolve().parents[1] / "examples" / "configs" / f"{name}.toml")
    assert cfg.method in name.replace("_", "-")
    assert cfg.data


def test_cli_executor_and_address_reach_the_config(tmp_path):
    import argparse

    from medvision_app.cli.search_cmds import _config, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    (tmp_path / "d.npz").write_bytes(b"")
    args = parser.parse_args(["search", "--method", "bbnas", "--data", str(tmp_path / "d.npz"),
                              "--address", "10.0.0.5:6379", "--set", "ray.gpus_per_candidate=0.25"])
    cfg = _config(args)
    assert cfg.executor == "ray" and cfg.ray.address == "10.0.0.5:6379" and cfg.ray.gpus_per_candidate == 0.25
    args = parser.parse_args(["search", "--method", "bbnas", "--data", str(tmp_path / "d.npz"), "--executor", "process"])
    assert _config(args).executor == "process"


def test_enas_refuses_where_children_would_run(tmp_path, capsys):
    from medvision_app.cli.main import main

    (tmp_path / "d.npz").write_bytes(b"")
    for flags in (["--executor", "ray"], ["--address", "auto"], ["--workers", "4"]):
        assert main(["search", "--method", "enas", "--data", str(tmp_path / "d.npz"), *flags,
                     "--out", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err
        assert f"{flags[0]} apply to bbnas and se-bbnas" in err and "ENAS trains its one shared network" in err
    assert not (tmp_path / "s").exists()


def test_an_enas_config_file_naming_ray_runs_here_and_says_so(tmp_path, capsys):
    from medvision_app.cli.search_cmds import _config, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    (tmp_path / "d.npz").write_bytes(b"")
    config = tmp_path / "enas.toml"
    config.write_text(f'method = "enas"\ndata = "{tmp_path / "d.npz"}"\nexecutor = "ray"\n')
    cfg = _config(parser.parse_args(["search", "--config", str(config)]))
    err = capsys.readouterr().err
    assert cfg.method == "enas" and f"warning: {config}: executor = \"ray\" applies to bbnas" in err
    config.write_text(f'method = "bbnas"\ndata = "{tmp_path / "d.npz"}"\nexecutor = "ray"\n')
    assert _config(parser.parse_args(["search", "--config", str(config)])).executor == "ray"
    assert not capsys.readouterr().err
