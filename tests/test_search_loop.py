"""The BbNAS loop: stopping rule, budgets, and resume after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from medvision_app.events import Cancelled, CancelToken
from medvision_app.search.bbnas import _adopt_interrupted_best, lead_is_noise, new_state, run_bbnas
from medvision_app.search.candidates import CandidateResult
from medvision_app.search.config import SearchConfig
from medvision_app.search.data import SearchData
from medvision_app.search.events import CandidateFinished, IterationFinished
from medvision_app.search.executor import LocalExecutor
from medvision_app.search.state import load_state, read_history
from tests.jobs_support import tiny_npz

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_torch_thread")



def _data(n=16, size=12) -> SearchData:
    rng = np.random.default_rng(0)
    x = rng.random((n, 1, size, size), dtype=np.float32)
    y = (np.arange(n) % 2).astype(np.int64)
    return SearchData(x, y, x, y, x, y, ["a", "b"])


def _scripted(best_by_iteration):
    """A fake evaluator: child k of iteration i scores best_i - 0.01 * k."""

    def evaluate(task, data, emit, cancel):
        return CandidateResult(best_by_iteration[task.iteration] - 0.01 * int(task.candidate_id.split("-")[1]), 0.1, 1, 0.0)

    return evaluate


def _run(tmp_path, scores, **cfg_kwargs):
    cfg = SearchConfig(method="bbnas", children_per_iteration=3, seed=1, **cfg_kwargs)
    data = _data()
    events = []
    state = run_bbnas(cfg, tmp_path, data, new_state(cfg, 2), emit=events.append,
                      executor=LocalExecutor(data, evaluator=_scripted(scores)))
    return state, events


def test_search_stops_when_the_best_accuracy_falls(tmp_path):
    state, events = _run(tmp_path, {0: 0.50, 1: 0.60, 2: 0.70, 3: 0.65, 4: 0.99})
    iterations = [e for e in events if isinstance(e, IterationFinished)]
    assert [e.iteration for e in iterations] == [0, 1, 2, 3]
    assert iterations[-1].stop_reason == "accuracy fell"
    assert state["stop_reason"] == "accuracy fell"
    # the last best model: the best child of iteration 2
    assert state["result_id"] == "2-0"
    assert json.loads((tmp_path / "best.json").read_text())["id"] == "2-0"
    history = read_history(tmp_path)
    assert len(history) == 1 + 3 * 3
    assert {h["id"] for h in history} >= {"0-0", "1-0", "3-2"}
    assert all(h["parent_id"] in {"0-0"} for h in history if h["iteration"] == 1)


def test_stop_patience_keeps_the_parents_through_a_fall(tmp_path):
    # iteration 2 falls (0.55 < 0.60) but the search goes on from iteration 1's parents;
    # iteration 3 beats 0.60 and leads; 4 and 5 fall below it: the second fall in a row stops
    state, events = _run(tmp_path, {0: 0.5, 1: 0.6, 2: 0.55, 3: 0.65, 4: 0.6, 5: 0.62, 6: 0.99}, stop_patience=2)
    iterations = [e for e in events if isinstance(e, IterationFinished)]
    assert [e.stop_reason for e in iterations] == [None] * 5 + ["accuracy fell in 2 iterations in a row"]
    assert state["result_id"] == "3-0"
    entries = {e["iteration"]: e for e in state["iterations"]}
    assert entries[2].get("fell") and not entries[3].get("fell") and entries[4].get("fell")
    parents = {it: {state["candidates"][c]["parent_id"] for c in state["finished"]
                    if state["candidates"][c]["iteration"] == it} for it in (2, 3, 4)}
    assert parents[3] == parents[2]  # the fallen iteration's children were not chosen
    assert "3-0" in parents[4]


def test_stop_patience_one_is_the_papers_rule(tmp_path):
    state, _ = _run(tmp_path, {0: 0.5, 1: 0.6, 2: 0.55, 3: 0.99}, stop_patience=1)
    assert state["stop_reason"] == "accuracy fell" and state["result_id"] == "1-0"


def test_lead_is_noise_scales_with_the_validation_split():
    # BreastMNIST's case: 0.859 against 0.833 on 78 images is two images
    assert lead_is_noise(0.859, 0.833, 78, 1.0)
    assert not lead_is_noise(0.859, 0.833, 78, 0.0)  # the paper's rule: any lead counts
    # the same lead on MNIST's 2,000 validation images is 4 standard errors
    assert not lead_is_noise(0.859, 0.833, 2000, 1.0)
    assert lead_is_noise(0.859, 0.833, 2000, 5.0)
    # two perfect scores: the error is still one image, so a tie is noise
    assert lead_is_noise(1.0, 1.0, 50, 0.5)


def test_select_margin_keeps_the_answer_through_a_lead_within_noise(tmp_path):
    # 16 validation images: 0.60 over 0.50 is 0.57 standard errors, 0.62 over 0.60 is 0.12
    scores = {0: 0.5, 1: 0.6, 2: 0.62, 3: 0.5}
    paper, _ = _run(tmp_path / "paper", scores)
    assert paper["result_id"] == "2-0"
    state, events = _run(tmp_path / "margin", scores, select_margin=0.5)
    assert state["stop_reason"] == "accuracy fell"
    assert state["result_id"] == "1-0"
    assert json.loads((tmp_path / "margin" / "best.json").read_text())["id"] == "1-0"
    entries = {e["iteration"]: e for e in state["iterations"]}
    assert entries[2].get("within_noise") and not entries[1].get("within_noise")
    # the search still moved on from the iteration within noise
    parents_of_3 = {state["candidates"][c]["parent_id"] for c in state["finished"]
                    if state["candidates"][c]["iteration"] == 3}
    assert "2-0" in parents_of_3


@pytest.mark.parametrize("margin, answer", [(0.0, "1-1"), (1.0, "0-0")])
def test_time_budget_answer_obeys_select_margin(margin, answer):
    state = {"iteration": 1, "result_id": "0-0", "finished": ["0-0", "1-1"], "candidates": {
        "0-0": {"id": "0-0", "iteration": 0, "val_accuracy": 0.833, "params": 10},
        "1-1": {"id": "1-1", "iteration": 1, "val_accuracy": 0.859, "params": 20}}}
    _adopt_interrupted_best(state, 78, margin)
    assert state["result_id"] == answer


def test_parents_are_the_best_and_the_smallest(tmp_path):
    state, _ = _run(tmp_path, {0: 0.5, 1: 0.6, 2: 0.4})
    it1 = [state["candidates"][c] for c in state["finished"] if state["candidates"][c]["iteration"] == 1]
    smallest = min(it1, key=lambda r: r["params"])["id"]
    parents_of_it2 = {state["candidates"][c]["parent_id"] for c in state["finished"] if state["candidates"][c]["iteration"] == 2}
    assert parents_of_it2 == {"1-0", smallest}


def test_iteration_budget(tmp_path):
    state, events = _run(tmp_path, {i: 0.1 * i for i in range(10)}, max_iterations=2)
    assert state["stop_reason"] == "iteration budget"
    assert sum(isinstance(e, CandidateFinished) for e in events) == 1 + 2 * 3


@pytest.mark.parametrize("score_1_0, answer", [(0.7, "1-0"), (0.4, "0-0")])
def test_time_budget_mid_iteration_answers_the_best_finished_model(tmp_path, score_1_0, answer):
    cfg = SearchConfig(method="bbnas", children_per_iteration=3, budget_seconds=1.0)
    data = _data()

    def evaluate(task, d, emit, cancel):
        if task.candidate_id == "1-1":  # still training when the budget runs out
            while True:
                cancel.raise_if_cancelled()
                time.sleep(0.02)
        return CandidateResult({"0-0": 0.5, "1-0": score_1_0}[task.candidate_id], 0.1, 1, 0.0)

    state = run_bbnas(cfg, tmp_path, data, new_state(cfg, 2), executor=LocalExecutor(data, evaluator=evaluate))
    assert state["stop_reason"] == "time budget"
    assert state["finished"] == ["0-0", "1-0"] and state["pending"] == ["1-1", "1-2"]
    assert state["result_id"] == answer
    assert json.loads((tmp_path / "best.json").read_text())["id"] == answer


def test_cancel_raises_and_keeps_finished_work(tmp_path):
    cfg = SearchConfig(method="bbnas", children_per_iteration=3)
    data = _data()
    token = CancelToken()
    scores = _scripted({i: 0.5 for i in range(5)})

    def evaluate(task, d, emit, cancel):
        if task.candidate_id == "1-1":
            token.cancel()
            time.sleep(0.5)  # the budget token relays the user's cancel within 0.2 s
            cancel.raise_if_cancelled()
        return scores(task, d, emit, cancel)

    with pytest.raises(Cancelled):
        run_bbnas(cfg, tmp_path, data, new_state(cfg, 2), cancel=token, executor=LocalExecutor(data, evaluator=evaluate))
    state = load_state(tmp_path)
    assert state["finished"] == ["0-0", "1-0"]
    assert state["pending"] == ["1-1", "1-2"]


SCRIPT = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path
    from medvision_app.search import SearchConfig, start_search
    from medvision_app.search.config import CandidateTraining, FinalTraining
    from medvision_app.training import handlers

    save = handlers.save_checkpoint

    def save_then_hold(state, directory, name="last.pt"):
        # A tiny candidate's epochs take milliseconds: holding 1-0 after its first checkpoint
        # puts the test's SIGKILL mid-candidate every time instead of racing a 50 ms poll.
        path = save(state, directory, name)
        if name == "last.pt" and Path(directory).parent.name == "1-0":
            time.sleep(120)
        return path

    handlers.save_checkpoint = save_then_hold
    # inherit=False: children of two full epochs, so that one is killed mid-candidate with a checkpoint
    # (an inheriting child's one-epoch halving rung leaves its checkpoint for a moment only)
    cfg = SearchConfig(method="bbnas", data=sys.argv[1], children_per_iteration=2, max_iterations=2, seed=5,
                       inherit=False, candidate=CandidateTraining(max_epochs=2, patience=2, batch_size=16),
                       final=FinalTraining(epochs=1, batch_size=16))
    start_search(cfg, sys.argv[2])
    """
)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_resume_after_sigkill(tmp_path):
    from medvision_app.search import resume_search

    data = tiny_npz(tmp_path / "tiny.npz")
    out = tmp_path / "search"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(script), str(data), str(out)], env=env, cwd=ROOT)
    deadline = time.monotonic() + 180
    try:
        # kill once the first child has a checkpoint of its first epoch: mid-candidate
        while time.monotonic() < deadline and not (out / "candidates" / "1-0" / "checkpoints" / "last.pt").exists():
            assert proc.poll() is None, "the search ended before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    state = load_state(out)
    assert state["phase"] == "search" and "1-0" in state["pending"]
    summary = resume_search(out)
    assert summary["stop_reason"] in {"iteration budget", "accuracy fell"}
    history = read_history(out)
    ids = [h["id"] for h in history]
    assert len(ids) == len(set(ids))
    expected = {"0-0"} | {f"{i}-{k}" for i in (1, 2) for k in (0, 1)}
    if summary["stop_reason"] == "iteration budget":
        assert set(ids) == expected
    assert all(h["val_accuracy"] is not None and h["genotype"] for h in history)
    assert (out / "final" / "eval.json").is_file()
    assert json.loads((out / "summary.json").read_text())["final"]["accuracy"] is not None
    assert not list((out / "candidates").iterdir())


def test_search_ends_when_no_valid_child_can_be_drawn(tmp_path):
    # every child of the initial model exceeds this parameter cap
    state, _ = _run(tmp_path, {0: 0.5, 1: 0.6}, max_params=1000)
    assert state["stop_reason"] == "no new valid children"
    assert state["finished"] == ["0-0"] and state["result_id"] == "0-0"


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_process_pool_executor_trains_candidates_in_workers():
    from medvision_app.search.candidates import CandidateTask
    from medvision_app.search.config import CandidateTraining
    from medvision_app.search.executor import ProcessPoolExecutor

    data = _data(n=16, size=8)
    settings = CandidateTraining(max_epochs=1, batch_size=8)
    tasks = [CandidateTask(1, f"1-{k}", "0-0", "test", g, 0, 0, seed=k, settings=settings)
             for k, g in enumerate(["C(4,3) F() FC(2)", "C(4,1) P(2,2) F() FC(2)"])]
    started = []
    pool = ProcessPoolExecutor(data, 2)
    try:
        results = dict((t.candidate_id, r) for t, r in pool.evaluate(tasks, on_start=lambda t: started.append(t.candidate_id)))
    finally:
        pool.close()
    assert sorted(started) == ["1-0", "1-1"]
    assert sorted(results) == ["1-0", "1-1"]
    assert all(r.epochs == 1 and 0.0 <= r.accuracy <= 1.0 for r in results.values())
