"""The search state: a dataclass that round-trips to state.json, reads older folders, refuses damaged ones."""

from __future__ import annotations

import json

import pytest

from medvision_app.search.bbnas import new_state
from medvision_app.search.config import SearchConfig
from medvision_app.search.enas_search import new_enas_state
from medvision_app.search.search_state import SearchState
from medvision_app.search.state import SearchStateError, load_state, save_state

# a state.json as the dict-based search wrote it, before the dataclass
OLD_STATE = {
    "version": 1, "method": "bbnas", "config": {"method": "bbnas"}, "n_classes": 2, "phase": "search",
    "iteration": 1, "candidates": {
        "0-0": {"iteration": 0, "id": "0-0", "parent_id": None, "transformation": "initial", "genotype": "C(4,3) F() FC(2)",
                "params": 10, "flops": 10, "seed": 0, "val_accuracy": 0.5, "loss": 0.7, "epochs": 1, "seconds": 1.0},
        "1-0": {"iteration": 1, "id": "1-0", "parent_id": "0-0", "transformation": "widen(0,16)",
                "genotype": "C(20,3) F() FC(2)", "params": 20, "flops": 20, "seed": 1}},
    "finished": ["0-0"], "pending": ["1-0"], "parents": ["0-0"], "iterations": [],
    "rng": {"bit_generator": "PCG64", "state": {"state": 1, "inc": 3}, "has_uint32": 0, "uinteger": 0},
    "elapsed": 12.5, "stop_reason": None, "result_id": "0-0",
}


@pytest.mark.parametrize("make", [lambda: new_state(SearchConfig(), 2), lambda: new_enas_state(SearchConfig(method="enas"), 2)])
def test_round_trip_through_state_json(tmp_path, make):
    state = make()
    state.candidates["0-0"] = dict(OLD_STATE["candidates"]["0-0"])
    state.finished.append("0-0")
    save_state(tmp_path, state)
    again = load_state(tmp_path)
    assert isinstance(again, SearchState) and again == state
    assert json.loads((tmp_path / "state.json").read_text()) == state.to_dict()


def test_an_older_state_file_resumes_unchanged(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps(OLD_STATE))
    state = load_state(tmp_path)
    assert state.pending == ["1-0"] and state.iteration == 1 and state.elapsed == 12.5
    assert state["result_id"] == "0-0" and state.get("epochs") is None  # item access as the old dict's
    save_state(tmp_path, state)
    assert {k: v for k, v in json.loads((tmp_path / "state.json").read_text()).items() if k in OLD_STATE} == OLD_STATE


@pytest.mark.parametrize("damage, reason", [
    ("[]", "JSON object"),
    (json.dumps({**OLD_STATE, "pending": "1-0"}), "pending is not a list"),
    (json.dumps({**OLD_STATE, "finished": ["0-0", "9-9"]}), "9-9"),
    (json.dumps({**OLD_STATE, "version": 7}), "version"),
    (json.dumps({k: v for k, v in OLD_STATE.items() if k != "method"}), "method"),
    ('{"method": "bbnas", "candidates": ', "unreadable"),
])
def test_a_damaged_state_is_refused_with_the_file_and_reason(tmp_path, damage, reason):
    (tmp_path / "state.json").write_text(damage)
    with pytest.raises(SearchStateError) as info:
        load_state(tmp_path)
    assert "state.json" in str(info.value) and reason in str(info.value)


def test_unknown_fields_are_refused_on_write():
    with pytest.raises(KeyError):
        new_state(SearchConfig(), 2)["no_such_field"] = 1
