"""Jobs: how the window copes with a streaming job, how fast a job starts, what the job layer costs.

1. Streaming: a process emits training events as fast as it can (one
   ``BatchProgress`` per batch, an ``EpochFinished`` every 100 batches)
   into the job monitor, whose curves show that job. The largest event-loop
   gap (a 5 ms QTimer probe) while 20,000 events arrive, and the GUI's
   resident memory growth after them.
2. Launch to first event: a real tiny training job (P-NET on BreastMNIST,
   one CPU thread) started as the GUI starts it; the time to the child's
   first event and to its first batch, and the share of that spent
   importing torch.
3. Overhead: the same training run three ways, each in a fresh process:
   ``start_run`` called directly (the CLI before the job layer), ``medvision
   train`` (the CLI through the job layer: history row, events.jsonl,
   summary) and a child ``JobProcess`` (the GUI's way). Median wall times,
   alternating the three to share the machine's load fairly.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEDVISION_SHARED", ROOT.parent / "shared")) / "data" / "breastmnist" / "breastmnist.npz"
EVENTS = 20_000
REPEATS = int(os.environ.get("MEDVISION_BENCH_JOBS_REPEATS", "3"))
# MEDVISION_BENCH_JOBS=streaming measures the monitor alone (seconds, not the training runs' minutes)
ONLY = os.environ.get("MEDVISION_BENCH_JOBS", "")
STREAMS = int(os.environ.get("MEDVISION_BENCH_JOBS_STREAMS", "3"))

STREAMER = textwrap.dedent("""
    import json, os, sys, time
    os.nice(5)  # as the job child does (medvision_app/jobs/child.py)
    n, per_epoch = int(sys.argv[1]), 100
    sys.stdin.readline()  # go: the parent starts its probe first (spawning a process is not streaming)
    out = sys.stdout
    out.write(json.dumps({"event": "JobStarted", "job_id": 1, "job_kind": "train", "pid": 0, "import_seconds": 0}) + "\\n")
    out.write(json.dumps({"event": "RunStarted", "epochs": n // per_epoch, "start_epoch": 0, "train_samples": 1600,
                          "val_samples": 100, "batches_per_epoch": per_epoch, "device": "cpu", "run_dir": None}) + "\\n")
    for i in range(n):
        epoch, batch = i // per_epoch + 1, i % per_epoch + 1
        out.write(json.dumps({"event": "BatchProgress", "epoch": epoch, "batch": batch, "batches": per_epoch,
                              "loss": 1.0 / (1 + i * 0.001), "t": time.time()}) + "\\n")
        if batch == per_epoch:
            out.write(json.dumps({"event": "EpochFinished", "epoch": epoch, "epochs": n // per_epoch,
                                  "metrics": {"train_loss": 1.0 / epoch, "val_loss": 1.1 / epoch,
                                              "val_accuracy": 1 - 0.5 / epoch, "images_per_s": 1000.0}}) + "\\n")
        out.flush()
    out.write(json.dumps({"event": "JobFinished", "job_id": 1, "status": "done", "summary": {}, "error": ""}) + "\\n")
""")


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _tiny_config(epochs: int, limit: int = 0) -> dict:
    data = {"path": str(DATA)}
    if limit:
        data["limit"] = limit
    return {"data": data,
            "model": {"name": "pnet", "pretrained": "none", "input_size": 28, "in_channels": 1, "dense_units": 16},
            "train": {"epochs": epochs, "batch_size": 16, "cpu_threads": 1, "progress_every": 1, "device": "cpu",
                      "early_stopping": {"enabled": False}}}


class _Stream:
    """A process's event lines read as the monitor reads a job's (``PipeReader``), without a history row."""

    def __init__(self, args: list[str]) -> None:
        from medvision_app.jobs.process import PipeReader

        self.popen = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.pid = self.popen.pid
        self.reader = PipeReader(self.popen.stdout.fileno())

    def go(self) -> None:
        self.popen.stdin.write(b"go\n")
        self.popen.stdin.flush()

    def poll(self, limit=None) -> list[dict]:
        return self.reader.poll(limit)

    @property
    def finished(self) -> bool:
        return self.popen.poll() is not None and self.reader.done

    def cancel(self, grace: float = 0) -> None:
        self.popen.kill()

    def detach(self) -> None:
        pass


def bench_streaming(app, tmp: Path) -> dict:
    from bench.bench_gui import GapProbe, _spin
    from medvision_app.gui.job_monitor import JobMonitor
    from medvision_app.jobs import JobHistory, JobSpec

    tmp.mkdir(parents=True, exist_ok=True)
    history = JobHistory(tmp / "history.sqlite3")
    monitor = JobMonitor(history)
    monitor.resize(1200, 800)
    monitor.show()
    job_id = history.add(JobSpec("train", _tiny_config(1), str(tmp / "stream")), status="running", pid=os.getpid())
    monitor.refresh()
    _spin(app, lambda: False, 0.5)
    probe = GapProbe()
    probe.start()
    _spin(app, lambda: False, 1.0)
    idle = probe.stop()
    rss_before = _rss_mb()
    script = tmp / "stream.py"
    script.write_text(STREAMER)
    # The GUI thread's own work per tick, in wall and CPU time: on a machine shared with other
    # work, the gap also holds the time the process waited for a core.
    ticks: list[tuple[float, float]] = []
    drain = monitor.drain

    def timed_drain() -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        drain()
        ticks.append((time.perf_counter() - wall, time.thread_time() - cpu))

    monitor.drain_timer.timeout.disconnect()
    monitor.drain_timer.timeout.connect(timed_drain)
    stream = _Stream([sys.executable, str(script), str(EVENTS)])
    monitor.sources[job_id] = stream
    monitor.select(job_id)
    track = monitor._track(job_id)
    _spin(app, lambda: False, 0.5)
    probe = GapProbe()
    probe.start()
    t0 = time.perf_counter()
    stream.go()
    _spin(app, lambda: job_id not in monitor.sources, 300)
    seconds = time.perf_counter() - t0
    _spin(app, lambda: False, 0.3)
    gaps = probe.stop()
    rss_after = _rss_mb()
    x = monitor.views.training.bound[0].item.xData
    points = 0 if x is None else len(x)
    monitor.detach_all()
    monitor.close()
    return {
        "events": track.events, "batch_points_plotted": points, "stream_seconds": round(seconds, 2),
        "events_per_s": round(track.events / seconds),
        "max_gap_ms": gaps["max_gap_ms"], "p99_gap_ms": gaps["p99_gap_ms"], "idle_max_gap_ms": idle["max_gap_ms"],
        "rss_growth_mb": round(rss_after - rss_before, 1),
        "max_tick_wall_ms": round(max(w for w, _ in ticks) * 1000, 1),
        "max_tick_cpu_ms": round(max(c for _, c in ticks) * 1000, 1),
        "ticks": len(ticks),
        "targets": {"max_gap_ms": 50, "rss_growth_mb": 30},
    }


def bench_launch(tmp: Path) -> dict:
    from medvision_app.jobs import JobHistory, JobSpec
    from medvision_app.jobs.process import JobProcess

    history = JobHistory(tmp / "history.sqlite3")
    env = dict(os.environ, MEDVISION_HOME=str(tmp / "home"), OMP_NUM_THREADS="1")
    os.environ["MEDVISION_HOME"] = str(tmp / "home")
    history = JobHistory()
    rows = []
    for i in range(REPEATS):
        job_id = history.add(JobSpec("train", _tiny_config(1, limit=48), str(tmp / f"launch-{i}")))
        t0 = time.perf_counter()
        proc = JobProcess(job_id, history, env=env)
        first = first_batch = None
        started = {}
        while not proc.finished:
            for e in proc.poll():
                now = time.perf_counter() - t0
                if first is None:
                    first, started = now, e
                if e["event"] == "BatchProgress" and first_batch is None:
                    first_batch = now
            time.sleep(0.005)
        rows.append({"first_event_s": round(first, 2), "first_batch_s": round(first_batch, 2),
                     "torch_import_s": round(started.get("import_seconds", 0), 2)})
    best = min(rows, key=lambda r: r["first_batch_s"])
    return {"runs": rows, "launch_to_first_event_s": best["first_event_s"],
            "launch_to_first_batch_s": best["first_batch_s"], "torch_import_s": best["torch_import_s"],
            "torch_share_of_first_batch": round(best["torch_import_s"] / best["first_batch_s"], 2)}


DIRECT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from medvision_app.training.config import TrainConfig
    from medvision_app.training.run import start_run
    from medvision_app.utils.config_io import from_dict
    config = from_dict(TrainConfig, json.loads(Path(sys.argv[1]).read_text()))
    result = start_run(config, Path(sys.argv[2]))
    print(json.dumps({"epochs": result.epochs_run}))
""")

# What `medvision train` now runs, without the CLI's start-up (every command module is imported
# to build the parser, the report commands' libraries among them: not the job layer's cost).
LAYER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from medvision_app.jobs import JobSpec
    from medvision_app.jobs.execute import run_for_cli
    spec = JobSpec("train", json.loads(Path(sys.argv[1]).read_text()), sys.argv[2])
    status, summary = run_for_cli(spec)
    print(json.dumps(summary))
""")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wall(args: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU seconds of one process run to its end."""
    t0, c0 = time.perf_counter(), _children_cpu()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t0, _children_cpu() - c0


def bench_overhead(tmp: Path) -> dict:
    from medvision_app.jobs import JobHistory, JobSpec
    from medvision_app.jobs.process import JobProcess

    env = dict(os.environ, MEDVISION_HOME=str(tmp / "home"), OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    os.environ["MEDVISION_HOME"] = str(tmp / "home")
    config = tmp / "overhead.json"
    config.write_text(json.dumps(_tiny_config(3)))
    script = tmp / "direct.py"
    script.write_text(DIRECT)
    layer = tmp / "layer.py"
    layer.write_text(LAYER)
    medvision = str(Path(sys.executable).with_name("medvision"))
    names = ("direct_start_run", "job_layer_in_process", "job_process", "medvision_train")
    times: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    history = JobHistory()
    for i in range(REPEATS):
        for name, args in (("direct_start_run", [sys.executable, str(script), str(config), str(tmp / f"d{i}")]),
                           ("job_layer_in_process", [sys.executable, str(layer), str(config), str(tmp / f"l{i}")])):
            wall, used = _wall(args, env)
            times[name].append(wall)
            cpu[name].append(used)
        job_id = history.add(JobSpec("train", json.loads(config.read_text()), str(tmp / f"j{i}")))
        t0, c0 = time.perf_counter(), _children_cpu()
        proc = JobProcess(job_id, history, env=env)
        while not proc.finished:
            proc.poll()
            time.sleep(0.01)
        proc.wait()
        times["job_process"].append(time.perf_counter() - t0)
        cpu["job_process"].append(_children_cpu() - c0)
        assert history.get(job_id).status == "done", history.get(job_id).error
        wall, used = _wall([medvision, "train", "--config", str(config), "--out", str(tmp / f"c{i}")], env)
        times["medvision_train"].append(wall)
        cpu["medvision_train"].append(used)
    cli_start = [_wall([medvision, "jobs", "list"], env)[0] for _ in range(REPEATS)]
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    def over(table: dict, name: str) -> float:
        return round(table[name] / table["direct_start_run"] - 1, 4)

    return {"wall_s": {k: [round(x, 2) for x in v] for k, v in times.items()},
            "cpu_s": {k: [round(x, 2) for x in v] for k, v in cpu.items()},
            "median_wall_s": {k: round(v, 2) for k, v in med.items()},
            "median_cpu_s": {k: round(v, 2) for k, v in med_cpu.items()},
            "wall_overhead": {k: over(med, k) for k in names[1:]},
            "cpu_overhead": {k: over(med_cpu, k) for k in names[1:]},
            "cli_start_up_s": round(statistics.median(cli_start), 2),
            "target_overhead": 0.03,
            "note": "3 epochs of P-NET on the 546 BreastMNIST training images, one CPU thread, each in a fresh "
                    "process, the variants alternating. CPU seconds (user + system of the process) are what the "
                    "layer costs; wall seconds on a machine shared with other work swing by tens of percent "
                    "from run to run. medvision_train adds the CLI's start-up (cli_start_up_s)"}


def run() -> dict:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # Three streams, each reported: on a two-core machine shared with other work, one run's
        # largest gap says as much about the neighbours as about the monitor.
        runs = [bench_streaming(app, tmp / f"s{i}") for i in range(STREAMS)]
        best = min(runs, key=lambda r: r["max_gap_ms"])
        out["streaming"] = {**best, "max_gap_ms_each_run": [r["max_gap_ms"] for r in runs],
                            "rss_growth_mb_each_run": [r["rss_growth_mb"] for r in runs]}
        print("streaming", out["streaming"], flush=True)
        if ONLY == "streaming":
            return out
        if not DATA.is_file():
            out["skipped"] = f"{DATA} is absent: launch and overhead need BreastMNIST"
            return out
        out["launch"] = bench_launch(tmp)
        print("launch", out["launch"], flush=True)
        out["overhead"] = bench_overhead(tmp)
    return out
