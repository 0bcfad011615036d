"""The BbNAS loop with inheritance: parents' weights go to their children, early discarding, successive halving."""

from __future__ import annotations

import numpy as np
import pytest

from medvision_app.search.bbnas import new_state, run_bbnas
from medvision_app.search.candidates import CandidateResult
from medvision_app.search.config import CandidateTraining, SearchConfig
from medvision_app.search.data import SearchData
from medvision_app.search.events import CandidateFinished
from medvision_app.search.executor import LocalExecutor
from medvision_app.search.state import read_history
from medvision_app.search.summary import build_summary


def _data() -> SearchData:
    x = np.random.default_rng(0).random((16, 1, 12, 12), dtype=np.float32)
    y = (np.arange(16) % 2).astype(np.int64)
    return SearchData(x, y, x, y, x, y, ["a", "b"])


class Scripted:
    """A fake trainer: accuracy from the candidate id, weights naming the candidate, every task kept."""

    def __init__(self, score):
        self.score, self.tasks = score, []

    def __call__(self, task, data, emit, cancel):
        self.tasks.append(task)
        epochs = task.max_epochs or task.settings.max_epochs
        acc = self.score(task.candidate_id, epochs)
        discarded = task.discard_below is not None and self.score(task.candidate_id, 1) < task.discard_below
        if discarded:  # the engine stops it after its first epoch
            epochs, acc = 1, self.score(task.candidate_id, 1)
        return CandidateResult(acc, 1 - acc, epochs, 0.1, weights=f"w{task.candidate_id}".encode(),
                               state=f"s{task.candidate_id}".encode() if task.keep_state else None,
                               discarded=discarded,
                               preserved=True if task.inherit else None, inherited=0.9 if task.inherit else 0.0)


def _run(tmp_path, score, **kwargs):
    kwargs.setdefault("max_iterations", 1)
    kwargs.setdefault("discard_min_images", 0)  # the margin as given; its floor is tested on its own
    cfg = SearchConfig(method="bbnas", children_per_iteration=4, seed=1,
                       candidate=CandidateTraining(max_epochs=10, inherited_max_epochs=2), **kwargs)
    fake = Scripted(score)
    events = []
    state = run_bbnas(cfg, tmp_path, _data(), new_state(cfg, 2), emit=events.append,
                      executor=LocalExecutor(_data(), evaluator=fake))
    return state, fake, events


def test_without_inheritance_the_search_is_the_papers(tmp_path):
    state, fake, _ = _run(tmp_path, lambda cid, e: 0.5, inherit=False)
    assert len(fake.tasks) == 5  # no halving: one training per child
    for task in fake.tasks:
        assert not task.inherit and task.parent_weights is None and task.max_epochs is None
        assert task.discard_below is None and task.resume_state is None
    assert all(not h["discarded"] and not h["halted"] for h in read_history(tmp_path))


def test_children_get_their_parents_weights_and_fewer_epochs(tmp_path):
    state, fake, events = _run(tmp_path, lambda cid, e: 0.5 + 0.01 * e, successive_halving=False)
    children = [t for t in fake.tasks if t.iteration == 1]
    assert len(children) == 4
    for task in children:
        assert task.inherit and task.parent_weights == b"w0-0" and task.parent_genotype
        assert task.max_epochs == 2
        # early discarding: a child must reach its parent's validation accuracy after its first epoch
        assert task.discard_below == pytest.approx(state["candidates"]["0-0"]["val_accuracy"] - 0.01)
    assert all(e.inherited == pytest.approx(0.9) for e in events if isinstance(e, CandidateFinished) and e.iteration)
    summary = build_summary(state, None)
    assert summary["inheritance"]["inherited"] == 4 and summary["inheritance"]["function_preserved"] == 4
    # the parents' and the answer's weights stay; the others are pruned
    kept = {p.stem for p in (tmp_path / "weights").glob("*.pt")}
    assert kept == set(state["parents"]) | {state["result_id"]}


@pytest.mark.parametrize("margin, floor_images, expected", [(0.01, 2, 2 / 16), (0.2, 2, 0.2), (0.01, 0, 0.01)])
def test_the_discard_margin_is_at_least_some_validation_images(tmp_path, margin, floor_images, expected):
    # 16 validation images: one image is 0.0625 of accuracy, so a 0.01 margin would discard on one image's noise
    state, fake, _ = _run(tmp_path, lambda cid, e: 0.5, successive_halving=False, discard_margin=margin,
                          discard_min_images=floor_images)
    parent = state["candidates"]["0-0"]["val_accuracy"]
    children = [t for t in fake.tasks if t.iteration == 1]
    assert children and all(t.discard_below == pytest.approx(parent - expected) for t in children)


def test_successive_halving_continues_the_better_half(tmp_path):
    # child k scores 0.6 + 0.05 k after one epoch, more after two
    state, fake, _ = _run(tmp_path, lambda cid, e: 0.4 if cid == "0-0" else 0.6 + 0.05 * int(cid[-1]) + 0.1 * (e - 1))
    rung = [t for t in fake.tasks if t.iteration == 1 and t.keep_state]
    further = [t for t in fake.tasks if t.iteration == 1 and t.resume_state is not None]
    assert len(rung) == 4 and all(t.max_epochs == 1 for t in rung)
    # slots = 1: half of the four continue, from their own rung state, to the full two epochs
    assert sorted(t.candidate_id for t in further) == ["1-2", "1-3"]
    assert all(t.resume_state == f"s{t.candidate_id}".encode() and t.max_epochs == 2 for t in further)
    history = {h["id"]: h for h in read_history(tmp_path)}
    assert history["1-0"]["halted"] and history["1-1"]["halted"]
    assert not history["1-3"]["halted"] and history["1-3"]["epochs"] == 2
    assert state["result_id"] == "1-3"


def test_discarded_children_do_not_continue_and_are_not_parents(tmp_path):
    # every child trails the parent (0.9) after its first epoch except 1-1
    state, fake, _ = _run(tmp_path, lambda cid, e: {"0-0": 0.9, "1-1": 0.95}.get(cid, 0.5), max_iterations=2)
    history = {h["id"]: h for h in read_history(tmp_path)}
    assert [h for h in ("1-0", "1-2", "1-3") if history[h]["discarded"]] == ["1-0", "1-2", "1-3"]
    assert not history["1-1"]["discarded"]
    it2_parents = {h["parent_id"] for h in history.values() if h["iteration"] == 2}
    assert it2_parents <= {"1-1"}


def test_an_iteration_of_discarded_children_draws_again_from_the_same_parents(tmp_path):
    # iteration 1's children all trail 0-0 after one epoch; iteration 2's child 2-1 beats it
    scores = {"0-0": 0.9, "2-1": 0.95}
    state, fake, _ = _run(tmp_path, lambda cid, e: scores.get(cid, 0.5), max_iterations=2, successive_halving=False)
    assert state["iterations"][1].get("all_discarded") and state["stop_reason"] == "iteration budget"
    assert {t.parent_id for t in fake.tasks if t.iteration == 2} == {"0-0"}
    assert state["result_id"] == "2-1"


def test_the_search_ends_after_three_iterations_of_discarded_children(tmp_path):
    state, _, _ = _run(tmp_path, lambda cid, e: 0.9 if cid == "0-0" else 0.5, max_iterations=0,
                       successive_halving=False)
    assert state["stop_reason"] == "every child discarded in 3 iterations"
    assert state["iteration"] == 3 and state["result_id"] == "0-0"


INHERIT_SCRIPT = """
import sys
import time
from pathlib import Path
from medvision_app.search import SearchConfig, start_search
from medvision_app.search.config import CandidateTraining, FinalTraining
from medvision_app.training import handlers

save = handlers.save_checkpoint

def save_then_hold(state, directory, name="last.pt"):
    # tiny children train in milliseconds: holding the first iteration's children keeps the
    # test's kill inside the search on any machine, not after it
    path = save(state, directory, name)
    if Path(directory).parent.name.startswith("1-"):
        time.sleep(120)
    return path

handlers.save_checkpoint = save_then_hold
cfg = SearchConfig(method="bbnas", data=sys.argv[1], children_per_iteration=3, max_iterations=2, seed=5,
                   candidate=CandidateTraining(max_epochs=2, patience=2, batch_size=16), final=FinalTraining(epochs=1))
start_search(cfg, sys.argv[2])
"""


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_an_inheriting_search_killed_mid_iteration_resumes_complete(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from jobs_support import tiny_npz

    from medvision_app.search import resume_search
    from medvision_app.search.state import load_state

    root = Path(__file__).resolve().parents[1]
    data, out, script = tiny_npz(tmp_path / "tiny.npz"), tmp_path / "search", tmp_path / "run.py"
    script.write_text(INHERIT_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, str(script), str(data), str(out)], env=env, cwd=root)
    try:
        # the initial model's weights are written when it finishes: its children are next
        while not (out / "weights" / "0-0.pt").exists():
            assert proc.poll() is None, "the search ended before it could be killed"
            time.sleep(0.02)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert load_state(out).phase == "search"
    summary = resume_search(out)
    history = read_history(out)
    ids = [h["id"] for h in history]
    assert len(ids) == len(set(ids)) and "0-0" in ids
    assert all(h["inherited"] for h in history if h["iteration"] == 1)  # the parent's weights survived the kill
    assert summary["final"]["accuracy"] is not None
