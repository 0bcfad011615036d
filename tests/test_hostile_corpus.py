"""Issue 11's corpus of broken, hostile and special inputs through ``info``, ``render`` and ``predict``.

The fast test runs every input that cannot hang, abort or eat memory
in-process (``main(argv)``), about 300 calls; the inputs that could (FIFOs,
devices, bombs, permissions) have their own tests in test_hostile_inputs.py.
The complete sweep, every input as a child process with its peak memory,
takes about a quarter of an hour on two cores: it runs with
``MEDVISION_HOSTILE_FULL=1``, and as ``python -m bench hostile``.
"""

from __future__ import annotations

import os

import pytest
from conftest import DATA, needs_shared
from hostile_corpus import build, summary, sweep

FULL = os.environ.get("MEDVISION_HOSTILE_FULL") == "1"


@pytest.fixture(autouse=True)
def _user_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))


def _report(outcomes) -> str:
    return "\n".join(f"{o.command} {o.case!r} -> {o.returncode}: {o.problems} "
                     f"{(o.crash or o.stderr).strip().splitlines()[-1:]}" for o in outcomes if o.problems)


@needs_shared
def test_corpus_has_at_least_80_inputs_of_every_kind(tmp_path):
    cases = build(tmp_path / "corpus", DATA, bombs=False)
    groups = {c.group for c in cases}
    assert len(cases) >= 80
    assert {"truncated", "header", "bomb", "special", "permission", "name", "random", "degenerate", "window",
            "valid", "wrong-extension"} <= groups
    assert sum(c.degenerate for c in cases) >= 8


@needs_shared
def test_corpus_in_process_no_traceback_no_answer_on_a_degenerate_image(tmp_path):
    cases = build(tmp_path / "corpus", DATA, bombs=False)
    outcomes = sweep(cases, tmp_path / "work", include_isolated=False)
    assert len(outcomes) >= 240
    figures = summary(cases, outcomes)
    assert not [o for o in outcomes if o.problems], _report(outcomes)
    assert figures["tracebacks"] == figures["confident_answers_on_degenerate_images"] == 0
    # The guards refuse what is broken, not what is valid.
    valid = {c.name for c in cases if c.group in ("valid", "wrong-extension")}
    assert all(o.returncode == 0 for o in outcomes if o.case in valid and o.command != "predict"), _report(outcomes)


@needs_shared
@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="the complete subprocess sweep takes ~15 minutes: MEDVISION_HOSTILE_FULL=1")
def test_complete_sweep_as_child_processes(tmp_path):
    cases = build(tmp_path / "corpus", DATA)
    outcomes = sweep(cases, tmp_path / "work", isolated_only_in_children=False, timeout=120)
    figures = summary(cases, outcomes)
    assert not [o for o in outcomes if o.problems], _report(outcomes)
    assert figures["peak_memory_of_a_refused_call_mb"] < 500, figures
