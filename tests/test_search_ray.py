"""The Ray executor: a tiny search on a local Ray instance; a worker killed mid-candidate is retried.

Ray is in the development install (the ``cluster`` extra); these tests start
their own two-CPU instance and stop it afterwards.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional 'cluster' extra; pip install 'medvision[cluster]'")

from medvision_app.events import Cancelled, CancelToken  # noqa: E402
from medvision_app.search.bbnas import new_state, run_bbnas  # noqa: E402
from medvision_app.search.candidates import train_candidate  # noqa: E402
from medvision_app.search.config import CandidateTraining, RaySettings, SearchConfig  # noqa: E402
from medvision_app.search.data import SearchData  # noqa: E402
from medvision_app.search.events import CandidateEpoch, CandidateFinished  # noqa: E402
from medvision_app.search.ray_executor import RayExecutor  # noqa: E402
from medvision_app.search.state import load_state, read_history  # noqa: E402

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def local_ray():
    # the evaluators below live in this test module, which Ray's workers cannot import by name
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _data(n=16, size=8) -> SearchData:
    rng = np.random.default_rng(0)
    x = rng.random((n, 1, size, size), dtype=np.float32)
    y = (np.arange(n) % 2).astype(np.int64)
    x[y == 1, :, 2:6, 2:6] += 1.0
    return SearchData(x, y, x, y, x, y, ["a", "b"])


def _marked(marks: Path, hold: str, task, data, emit, cancel):
    """Train the candidate; the first attempt at ``hold`` waits to be killed instead."""
    attempt = len(list(marks.glob(f"{task.candidate_id}.*"))) + 1
    (marks / f"{task.candidate_id}.{attempt}").write_text(str(os.getpid()))
    if task.candidate_id == hold and attempt == 1:
        time.sleep(120)
    return train_candidate(task, data, emit, cancel)


def _config(**kwargs) -> SearchConfig:
    # one iteration after the initial model: two children, one per Ray worker
    return SearchConfig(method="bbnas", children_per_iteration=2, max_iterations=1, seed=2, executor="ray",
                        candidate=CandidateTraining(max_epochs=1, batch_size=8), **kwargs)


def test_a_killed_worker_has_its_candidate_retried_and_the_history_is_complete(local_ray, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    data = _data()
    executor = RayExecutor(data, RaySettings(max_retries=2), evaluator=functools.partial(_marked, marks, "1-0"))
    assert executor.slots == 2

    def kill_first_attempt() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (marks / "1-0.1").exists():
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(int((marks / "1-0.1").read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_first_attempt, daemon=True)
    killer.start()
    events = []
    cfg = _config()
    try:
        state = run_bbnas(cfg, tmp_path / "search", data, new_state(cfg, 2), emit=events.append, executor=executor)
    finally:
        executor.close()
    killer.join(5)
    assert sorted(p.name for p in marks.glob("1-0.*")) == ["1-0.1", "1-0.2"]  # killed once, run again
    history = read_history(tmp_path / "search")
    ids = [h["id"] for h in history]
    assert len(ids) == len(set(ids))
    assert state["stop_reason"] in {"iteration budget", "accuracy fell"} and set(ids) == {"0-0", "1-0", "1-1"}
    assert all(h["val_accuracy"] is not None for h in history)
    assert load_state(tmp_path / "search")["finished"] == ids
    # the workers' epoch events reached the driver, and children inherited their parent's weights
    assert any(isinstance(e, CandidateEpoch) and e.candidate_id == "1-0" for e in events)
    finished = [e for e in events if isinstance(e, CandidateFinished)]
    assert all(e.inherited > 0 for e in finished if e.iteration > 0)


def test_cancel_cancels_the_running_tasks(local_ray, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    data = _data()
    executor = RayExecutor(data, evaluator=functools.partial(_marked, marks, "1-1"))
    token = CancelToken()

    def cancel_when_held() -> None:
        while not (marks / "1-1.1").exists():
            time.sleep(0.05)
        token.cancel()

    threading.Thread(target=cancel_when_held, daemon=True).start()
    cfg = _config()
    began = time.monotonic()
    with pytest.raises(Cancelled):
        run_bbnas(cfg, tmp_path / "search", data, new_state(cfg, 2), cancel=token, executor=executor)
    executor.close()
    assert time.monotonic() - began < 60  # not the 120 s the held candidate would sleep
    state = load_state(tmp_path / "search")
    assert "1-1" in state["pending"] and "0-0" in state["finished"]
    pid = int((marks / "1-1.1").read_text())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid)  # the held task's worker was stopped, not left sleeping


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False

