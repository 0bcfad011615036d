"""Configs round-trip exactly through JSON and TOML; mistakes are named."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import pytest

from medvision_app.utils.atomic import atomic_path, atomic_write_text
from medvision_app.utils.config_io import (
    ConfigError,
    apply_overrides,
    dumps,
    from_dict,
    load_config,
    loads,
    save_config,
    to_dict,
)


@dataclass
class Inner:
    k: int = 3
    ratios: tuple[float, float, float] = (0.7, 0.2, 0.1)


@dataclass
class Outer:
    name: str = "run"
    lr: float = 1e-3
    weights: Optional[str] = None
    mode: Literal["fast", "exact"] = "fast"
    inner: Inner = field(default_factory=Inner)
    steps: list[Inner] = field(default_factory=list)


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_round_trip(tmp_path, suffix):
    cfg = Outer(name="x", lr=0.5, weights=None, mode="exact", inner=Inner(5, (0.8, 0.1, 0.1)), steps=[Inner(1), Inner(2)])
    save_config(cfg, tmp_path / f"c{suffix}")
    assert load_config(Outer, tmp_path / f"c{suffix}") == cfg


def test_unknown_keys_and_bad_types_are_named():
    with pytest.raises(ConfigError, match="inner: unknown key\\(s\\) kk"):
        from_dict(Outer, {"inner": {"kk": 1}})
    with pytest.raises(ConfigError, match="lr: expected a number"):
        from_dict(Outer, {"lr": "fast"})
    with pytest.raises(ConfigError, match="mode: 'slow' is not one of"):
        from_dict(Outer, {"mode": "slow"})
    with pytest.raises(ConfigError, match="not valid TOML"):
        loads(Outer, "name = = 1", "toml")


def test_overrides_parse_values():
    data = apply_overrides(to_dict(Outer()), ["lr=0.01", "inner.k=7", "name=abc", "inner.ratios=[0.5, 0.25, 0.25]"])
    cfg = from_dict(Outer, data)
    assert cfg.lr == 0.01 and cfg.inner.k == 7 and cfg.name == "abc" and cfg.inner.ratios == (0.5, 0.25, 0.25)
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["novalue"])


def test_toml_leaves_out_none():
    assert "weights" not in dumps(Outer(), "toml")


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "settings.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_atomic_write_gives_normal_permissions(tmp_path):
    import os

    target = tmp_path / "model.json"
    atomic_write_text(target, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    os.chmod(target, 0o640)
    atomic_write_text(target, "y")
    assert target.stat().st_mode & 0o777 == 0o640
