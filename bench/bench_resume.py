"""Kill-and-resume soak: SIGKILL a tiny training run again and again, resume it, compare with an uninterrupted run.

Every attempt is a real ``medvision train`` process (``--config ... --out``
while the folder holds no ``config.json`` yet, ``--resume`` after). The
attempts are killed in turn: during epoch 1 (before any checkpoint
exists), while a checkpoint is being written (the temporary file is
complete, neither rename done yet), and at random moments: a third of
them during start-up and data loading, the rest within about an epoch of
the attempt's first batch (training, validation, checkpoint writes), so
that the run is still unfinished when the last kill lands. The last
attempt runs to the end. The run must then hold exactly what an
uninterrupted run of the same configuration holds: the same ``eval.json``
(less its time stamp), the same ``predictions.csv``, each epoch once in
``metrics.jsonl`` with the same losses and metrics, and ``best.pt`` from
the same epoch. One torch thread, deterministic kernels, CPU.

The child is this module run as ``python -m bench.bench_resume --child``:
it prints a line per batch and per checkpoint write so the parent can kill
it at a chosen moment, and (``SOAK_SAVE_PAUSE``) pauses inside the write.

``python -m bench resume`` runs 10 kills; ``tests/test_resume_soak.py``
runs a short version (a kill in epoch 1 and one during a write).
"""

from __future__ import annotations

import csv
import json
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BREAST = ROOT.parent / "shared" / "data" / "breastmnist" / "breastmnist.npz"
KILLS = 10
SEED = 0
# Metrics that depend on the clock, not on the training.
TIMING_KEYS = ("seconds", "images_per_s")


def tiny_config(data_path: Path, epochs: int = 5) -> dict:
    """P-NET at 28 px on 96 BreastMNIST images per split: a few seconds an epoch on one core."""
    return {
        "description": "kill-and-resume soak",
        "data": {"path": str(data_path), "limit": 96},
        "model": {"name": "pnet", "pretrained": "none", "input_size": 28, "in_channels": 1, "dense_units": 16},
        "train": {"epochs": epochs, "batch_size": 16, "lr": 0.002, "seed": 0, "device": "cpu",
                  "cpu_threads": 1, "deterministic": True, "progress_every": 1,
                  "early_stopping": {"enabled": False}},
    }


def write_config(path: Path, config: dict) -> Path:
    import tomli_w

    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


@dataclass
class Kill:
    """When to kill an attempt: ``"epoch1"`` (at batch ``at`` of epoch 1), ``"save"`` (in the ``at``-th
    checkpoint write of the attempt), ``"time"`` (``at`` seconds after it started: start-up, data loading),
    ``"train"`` (``at`` seconds after its first batch), ``None`` (never)."""

    kind: Optional[str]
    at: float = 0.0


@dataclass
class Attempt:
    kill: Kill
    mode: str  # "start" or "resume"
    killed: bool
    returncode: int
    seconds: float
    last_event: str = ""
    stderr_tail: list[str] = field(default_factory=list)
    first_batch_seconds: Optional[float] = None  # from the start of the process to its first batch


def attempt(run_dir: Path, config_path: Path, home: Path, kill: Kill, *, timeout: float = 300.0) -> Attempt:
    """One ``medvision train`` process on ``run_dir``, killed as ``kill`` says."""
    mode = "resume" if (run_dir / "config.json").is_file() else "start"
    train_args = ["--resume", str(run_dir)] if mode == "resume" else ["--config", str(config_path), "--out", str(run_dir)]
    env = dict(os.environ, MEDVISION_HOME=str(home), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               SOAK_SAVE_PAUSE="30" if kill.kind == "save" else "0")
    err_path = home / f"stderr-{time.monotonic_ns()}.txt"
    started = time.monotonic()
    with open(err_path, "w", encoding="utf-8") as err:
        proc = subprocess.Popen([sys.executable, "-m", "bench.bench_resume", "--child", "train", *train_args],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        lines: queue.Queue = queue.Queue()
        reader = threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True)
        reader.start()
        killed, last_event, saves, first_batch = False, "", 0, None
        while proc.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed > timeout:
                proc.kill()
                raise RuntimeError(f"attempt on {run_dir} hung for {timeout:.0f} s")
            if (kill.kind == "time" and elapsed >= kill.at) or \
                    (kill.kind == "train" and first_batch is not None and elapsed - first_batch >= kill.at):
                killed = _kill(proc)
                break
            try:
                line = lines.get(timeout=0.01)
            except queue.Empty:
                continue
            if line.startswith("EVENT"):
                last_event = line.strip()
                if first_batch is None:
                    first_batch = time.monotonic() - started
                _, kind, epoch, batch = line.split()
                if kill.kind == "epoch1" and kind == "BatchProgress" and int(epoch) == 1 and int(batch) >= kill.at:
                    killed = _kill(proc)
                    break
            elif line.startswith("SAVED-TMP"):
                saves += 1
                last_event = line.strip()
                if kill.kind == "save" and saves >= kill.at:
                    killed = _kill(proc)
                    break
        proc.wait()
        reader.join(timeout=5)
    tail = err_path.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
    return Attempt(kill, mode, killed, proc.returncode, time.monotonic() - started, last_event, tail, first_batch)


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)


def _kill(proc: subprocess.Popen) -> bool:
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def run_outcome(run_dir: Path) -> dict:
    """What an ended run holds, less the clock: eval.json, predictions, metrics per epoch, best epoch."""
    import torch

    report = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))
    report.pop("evaluated_at", None)
    with open(run_dir / "predictions.csv", newline="", encoding="utf-8") as fh:
        predictions = list(csv.reader(fh))
    metrics = []
    for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        metrics.append({k: v for k, v in row.items() if k not in TIMING_KEYS})
    best = torch.load(run_dir / "checkpoints" / "best.pt", map_location="cpu", weights_only=True)
    return {"eval": report, "predictions": predictions, "metrics": metrics, "best_epoch": best["epoch"]}


def soak(workdir: Path, plan: Callable[[Attempt, int], list[Kill]], *, data_path: Path = BREAST,
         epochs: int = 5) -> dict:
    """An uninterrupted reference run, then one run killed by each entry of ``plan(reference, epochs)`` in
    turn and finished."""
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    config_path = write_config(workdir / "soak.toml", tiny_config(data_path, epochs))
    reference = attempt(workdir / "reference", config_path, home, Kill(None))
    if reference.returncode != 0:
        raise RuntimeError(f"the reference run failed: {reference.stderr_tail}")
    expected = run_outcome(workdir / "reference")
    run_dir = workdir / "killed"
    attempts = []
    planned = plan(reference, epochs)
    for kill in planned:
        attempts.append(attempt(run_dir, config_path, home, kill))
    final = attempt(run_dir, config_path, home, Kill(None))
    attempts.append(final)
    failures = [a for a in attempts if not a.killed and a.returncode != 0]
    got = run_outcome(run_dir) if final.returncode == 0 else None
    differences = [] if got is None else [k for k in expected if got[k] != expected[k]]
    return {
        "reference_seconds": round(reference.seconds, 2),
        "reference_first_batch_seconds": round(reference.first_batch_seconds or 0.0, 2),
        "planned_kills": len(planned),
        "kills": sum(a.killed for a in attempts),
        "attempts": [{"kill": a.kill.kind, "at": round(a.kill.at, 2), "mode": a.mode, "killed": a.killed,
                      "returncode": a.returncode, "seconds": round(a.seconds, 2), "last_event": a.last_event,
                      **({"stderr": a.stderr_tail} if a.returncode not in (0, -signal.SIGKILL) else {})}
                     for a in attempts],
        "failed_attempts": len(failures),
        "final_returncode": final.returncode,
        "differences_from_uninterrupted": differences if got is not None else ["no finished run"],
        "same_as_uninterrupted": got is not None and not differences,
        "epochs": len(expected["metrics"]),
    }


def default_plan(reference: Attempt, epochs: int, kills: int = KILLS, seed: int = SEED) -> list[Kill]:
    """A kill in epoch 1, one in a checkpoint write, the rest at random moments: a third during start-up
    and data loading, the others during training, each within about one epoch of its first batch so the
    run is still unfinished when the last kill lands."""
    rng = random.Random(seed)
    startup = reference.first_batch_seconds or 1.0
    epoch = (reference.seconds - startup) / epochs
    randoms = [Kill("time", rng.uniform(0.2, startup)) if i % 3 == 0 else Kill("train", rng.uniform(0.0, epoch))
               for i in range(kills - 2)]
    rng.shuffle(randoms)
    plan = [Kill("epoch1", 2), *randoms]
    plan.insert(1 + kills // 2, Kill("save", 1))
    return plan


def run() -> dict:
    if not BREAST.is_file():
        return {"skipped": f"{BREAST} is absent"}
    # Twelve epochs: ten attempts that each train at most about one epoch leave the run unfinished.
    with tempfile.TemporaryDirectory(prefix="mv-resume-soak-") as tmp:
        # The reference run's length sets the random moments.
        result = soak(Path(tmp), default_plan, epochs=12)
    result["plan_seed"] = SEED
    return result


def _child(argv: list[str]) -> int:
    """``medvision`` with markers on stdout: a line per batch and epoch, one per checkpoint write."""
    import torch

    import medvision_app.training.engine as engine

    pause = float(os.environ.get("SOAK_SAVE_PAUSE", "0") or 0)
    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        print(f"SAVED-TMP {Path(str(f)).name}", flush=True)  # written, not yet renamed into place
        if pause:
            time.sleep(pause)

    torch.save = save
    real_fire = engine.Trainer.fire

    def fire(self, event):
        if event.kind in ("BatchProgress", "EpochFinished"):
            print(f"EVENT {event.kind} {event.epoch} {getattr(event, 'batch', 0)}", flush=True)
        real_fire(self, event)

    engine.Trainer.fire = fire
    from medvision_app.cli.main import main

    return main(argv)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        raise SystemExit(_child(sys.argv[2:]))
    print(json.dumps(run(), indent=2))
