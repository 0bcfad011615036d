"""The job layer: a job in its own process, its events, cancel, resume after SIGKILL, the history and `medvision jobs`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from medvision_app.jobs import JobHistory, JobSpec
from medvision_app.jobs.process import EventTail, JobProcess
from medvision_app.jobs.queue import JobQueue
from tests.jobs_support import collect, tiny_npz, tiny_search_config, tiny_train_config


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tmp_path / "home"


@pytest.fixture
def breast(shared_data):
    return shared_data / "breastmnist" / "breastmnist.npz"


def test_history_records_and_reads_a_dead_pid_as_interrupted(home, tmp_path):
    history = JobHistory()
    spec = JobSpec("train", {"train": {"device": "cpu"}}, str(tmp_path / "run"))
    queued = history.add(spec)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    running = history.add(spec, status="running", pid=dead.pid)
    alive = history.add(spec, status="running", pid=os.getpid())
    assert [r.status for r in history.list()] == ["queued", "interrupted", "running"]
    assert history.get(queued).device == "cpu" and history.get(running).run_dir == str(tmp_path / "run")
    history.finish(alive, "done", metric=("test_accuracy", 0.75))
    record = history.get(alive)
    assert (record.status, record.best_metric, record.progress) == ("done", 0.75, 1.0) and record.ended
    with pytest.raises(Exception, match="no such job"):
        history.get(999)
    with pytest.raises(Exception, match="kind"):
        JobSpec("dance", {}, str(tmp_path))


def test_queue_runs_one_job_per_device(home, tmp_path):
    launched = []
    history = JobHistory()
    queue = JobQueue(history, launch=lambda job_id, hist: launched.append(job_id) or hist.mark_running(job_id, os.getpid()))
    a = queue.submit(JobSpec("train", {"train": {"device": "cpu"}}, str(tmp_path / "a")))
    b = queue.submit(JobSpec("train", {"train": {"device": "cpu"}}, str(tmp_path / "b")))
    c = queue.submit(JobSpec("train", {"train": {"device": "cuda"}}, str(tmp_path / "c")))
    queue.tick()
    assert launched == [a, c]  # b waits for the CPU
    queue.tick()
    assert launched == [a, c]
    history.finish(a, "done")
    queue.tick()
    assert launched == [a, c, b]


@pytest.mark.parametrize("accelerator", [False, True])
def test_an_auto_job_shares_the_cpu_slot_where_there_is_no_accelerator(home, tmp_path, monkeypatch, accelerator):
    from medvision_app.jobs import queue as queue_module

    monkeypatch.setattr(queue_module, "has_accelerator", lambda: accelerator)
    assert queue_module.device_key("auto") == ("gpu" if accelerator else "cpu")
    assert queue_module.device_key("cuda") == "gpu" and queue_module.device_key("cpu") == "cpu"
    launched = []
    history = JobHistory()
    queue = JobQueue(history, launch=lambda job_id, hist: launched.append(job_id) or hist.mark_running(job_id, os.getpid()))
    cpu = queue.submit(JobSpec("train", {"train": {"device": "cpu"}}, str(tmp_path / "a")))
    auto = queue.submit(JobSpec("search", {"method": "bbnas", "device": "auto"}, str(tmp_path / "b")))
    queue.tick()
    # on a CPU-only machine both would train on the same cores: the second waits
    assert launched == ([cpu, auto] if accelerator else [cpu])
    for job_id in launched:
        history.finish(job_id, "done")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_train_job_streams_events_then_cancel(home, tmp_path, breast):
    history = JobHistory()
    spec = JobSpec("train", tiny_train_config(breast, epochs=2), str(tmp_path / "run"))
    proc = JobProcess(history.add(spec), history)
    events = collect(proc, lambda e: e["event"] == "JobFinished")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "JobStarted" and events[0]["import_seconds"] > 0
    assert kinds.count("EpochFinished") == 2 and "BatchProgress" in kinds and kinds[-1] == "JobFinished"
    assert events[-1]["status"] == "done" and events[-1]["summary"]["epochs"] == 2
    logged = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in logged] == kinds[1:-1]  # the run folder holds what the parent heard
    record = history.get(proc.job_id)
    assert record.status == "done" and record.best_metric_name == "test_accuracy" and record.pid == proc.pid

    # cancel: a message first; the job stops at its next batch and says so
    spec = JobSpec("train", tiny_train_config(breast, epochs=50), str(tmp_path / "long"))
    proc = JobProcess(history.add(spec), history)
    collect(proc, lambda e: e["event"] == "BatchProgress")
    proc.cancel(grace=30)
    events = collect(proc, lambda e: e["event"] == "JobFinished")
    assert events[-1]["status"] == "cancelled" and "RunCancelled" in [e["event"] for e in events]
    assert proc.wait(30) == 0 and history.get(proc.job_id).status == "cancelled"


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_resume_after_sigkill_and_reattach_through_the_run_folder(home, tmp_path, breast):
    history = JobHistory()
    spec = JobSpec("train", tiny_train_config(breast, epochs=3), str(tmp_path / "run"))
    proc = JobProcess(history.add(spec), history)
    tail = EventTail(tmp_path / "run" / "events.jsonl", proc.pid)  # what a restarted GUI would follow
    collect(proc, lambda e: e["event"] == "CheckpointSaved")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    seen = tail.poll()
    assert "CheckpointSaved" in [e["event"] for e in seen] and not tail.alive
    assert history.get(proc.job_id).status == "interrupted"

    queue = JobQueue(history)
    queue.requeue(proc.job_id)
    assert history.get(proc.job_id).spec.resume
    (resumed,) = queue.tick()
    events = collect(resumed, lambda e: e["event"] == "JobFinished")
    started = next(e for e in events if e["event"] == "RunStarted")
    assert started["start_epoch"] >= 1  # it went on from the checkpoint, not from scratch
    assert events[-1]["status"] == "done" and events[-1]["summary"]["epochs"] == 3
    assert history.get(proc.job_id).status == "done"
    assert [e["event"] for e in tail.poll()].count("EpochFinished") == 3 - started["start_epoch"]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_search_job_streams_candidates_and_jobs_cli_lists_both(home, tmp_path, breast, capsys):
    from medvision_app.cli.main import main

    history = JobHistory()
    data = tiny_npz(tmp_path / "tiny.npz")
    proc = JobProcess(history.add(JobSpec("search", tiny_search_config(data), str(tmp_path / "search"))), history)
    events = collect(proc, lambda e: e["event"] == "JobFinished", timeout=200)
    kinds = [e["event"] for e in events]
    assert kinds.index("CandidateFinished") < kinds.index("SearchFinished") < kinds.index("JobFinished")
    assert events[-1]["status"] == "done", events[-1]

    run = tmp_path / "cli-run"
    config = tmp_path / "c.json"
    config.write_text(json.dumps(tiny_train_config(breast, epochs=1)))
    assert main(["train", "--config", str(config), "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["jobs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(j["kind"], j["status"], j["origin"]) for j in listed] == [("search", "done", "gui"), ("train", "done", "cli")]
    assert [j["ran_on"] for j in listed] == ["cpu", "cpu"]  # where each ran, as the job resolved it
    assert listed[1]["run_dir"] == str(run.resolve()) and (run / "events.jsonl").is_file()
    assert main(["jobs", "list"]) == 0
    table = capsys.readouterr().out
    assert "search" in table and "train" in table and "done" in table
    assert table.splitlines()[0].split()[5] == "ON" and all("  cpu  " in line for line in table.splitlines()[1:])
    assert main(["jobs", "show", str(listed[1]["id"])]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["train"]["epochs"] == 1
    assert main(["jobs", "cancel", str(listed[1]["id"])]) == 2
    assert "not running (done)" in capsys.readouterr().err
    assert main(["jobs", "resume", str(listed[0]["id"])]) == 2


def test_a_history_written_before_the_phase_column_opens_and_gains_it(home, tmp_path):
    import sqlite3

    from medvision_app.jobs import history as history_module

    path = tmp_path / "old.sqlite3"
    old_schema = history_module._SCHEMA.replace(",\n    phase TEXT,\n    ran_on TEXT\n", "\n")
    assert "phase" not in old_schema and "ran_on" not in old_schema
    spec = JobSpec("train", {"train": {"device": "cpu"}}, str(tmp_path / "run"))
    with sqlite3.connect(path) as db:
        db.execute(old_schema)
        db.execute("INSERT INTO jobs (kind, name, spec, run_dir, status, created) VALUES (?, ?, ?, ?, ?, ?)",
                   ("train", "old", spec.to_json(), str(tmp_path / "run"), "done", 1.0))
    history = JobHistory(path)
    (record,) = history.list()
    assert record.name == "old" and record.phase is None
    history.update(record.id, progress=0.4, phase="retraining", ran_on="cpu")
    assert history.get(record.id).phase == "retraining" and history.get(record.id).ran_on == "cpu"


def test_a_recorded_search_writes_its_phase_and_share_to_the_history(home, tmp_path, monkeypatch, capsys):
    from medvision_app.cli.main import main as cli
    from medvision_app.jobs import execute as execute_module
    from medvision_app.search.events import CandidateEpoch, EnasEpochFinished

    config = tiny_search_config(tmp_path / "unused.npz")
    config.update(method="enas", enas={"epochs": 4, "final_epochs": 5, "final_shapes": ["enas-7"]})
    seen = []

    def fake_execute(spec, *, emit, cancel, progress):
        history = JobHistory()
        job = history.list()[-1].id
        for epoch in (1, 2):
            emit(EnasEpochFinished(epoch, 0.5, 0.7, 0.6, "arc", 1.0))
        seen.append((history.get(job).phase, history.get(job).progress))
        for epoch in (1, 2):
            emit(CandidateEpoch("final-enas-7", epoch, 0.8, 0.4))
        seen.append((history.get(job).phase, history.get(job).progress))
        assert cli(["jobs", "list"]) == 0
        return "done", {"search_dir": spec.run_dir}

    monkeypatch.setattr(execute_module, "execute", fake_execute)
    execute_module.run_recorded(JobSpec("search", config, str(tmp_path / "search")))
    assert seen == [("search", 0.5), ("retraining", 0.4)]
    assert "retraining 40%" in capsys.readouterr().out
    record = JobHistory().list()[-1]
    assert (record.status, record.progress, record.phase) == ("done", 1.0, None)


def test_a_job_asking_for_auto_records_where_it_ran(home, tmp_path, breast):
    from medvision_app.jobs.execute import run_recorded

    history = JobHistory()
    config = tiny_train_config(breast, epochs=1)
    config["train"]["device"] = "auto"
    job_id, status, _ = run_recorded(JobSpec("train", config, str(tmp_path / "run")), history=history)
    import torch

    record = history.get(job_id)
    assert status == "done" and record.device == "auto"
    assert record.ran_on == ("cuda:0" if torch.cuda.is_available() else "cpu")


def test_a_search_on_a_cluster_records_ray_and_enas_records_this_machine(tmp_path):
    from medvision_app.jobs.execute import _search_device

    def spec(**config):
        return JobSpec("search", {"method": "bbnas", "data": "x", **config}, str(tmp_path / "s"))

    assert _search_device(spec(executor="ray")) == "ray"
    assert _search_device(spec(executor="ray", method="enas", device="cpu")) == "cpu"  # ENAS trains in the job
    resumed = spec(executor="auto", device="cpu")
    resumed = JobSpec("search", resumed.config, resumed.run_dir, resume=True, overrides={"executor": "ray"})
    assert _search_device(resumed) == "ray"
    assert _search_device(spec(device="cpu")) == "cpu"
