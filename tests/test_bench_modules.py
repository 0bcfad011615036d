"""The benchmarks stay runnable: each imports against the current core and offers ``run()``.

They take minutes to hours, so the suite runs none of them; a renamed core
function would otherwise surface only at the next `make bench`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from bench.__main__ import available

HELPERS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "bench").glob("*.py")
                 if not p.stem.startswith(("bench_", "_")))


def test_every_benchmark_is_listed():
    assert {"search", "accuracy", "inference", "training"} <= set(available())


@pytest.mark.parametrize("name", available())
def test_a_benchmark_imports_and_has_run(name):
    module = importlib.import_module(f"bench.bench_{name}")
    assert callable(getattr(module, "run", None)), f"bench/bench_{name}.py has no run()"


@pytest.mark.parametrize("name", HELPERS)
def test_a_bench_helper_imports(name):
    importlib.import_module(f"bench.{name}")
