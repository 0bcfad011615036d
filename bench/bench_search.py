"""Neural architecture search: the issue's figures, and the cost of a SIGKILL.

``python -m bench search`` runs a smoke version by default (a few minutes on
two CPU cores: tiny subsets, one iteration or epoch) that proves every path
works. The issue's figures are long runs::

    MEDVISION_BENCH_SEARCH=full python -m bench search

runs BbNAS and SE-BbNAS on MNIST (``MEDVISION_BENCH_SEARCH_MNIST_BUDGET``
seconds each, default 3600) and SE-BbNAS and ENAS on BreastMNIST
(``MEDVISION_BENCH_SEARCH_BREAST_BUDGET``, default 1800), each from its
example config, then the resume measurement. ``MEDVISION_BENCH_SEARCH_ONLY``
(comma-separated names: ``bbnas-mnist``, ``se-bbnas-mnist``,
``se-bbnas-breast``, ``enas-breast``, ``resume``, ``inheritance``,
``executors``, and on request only ``enas-breast-long``,
``enas-breast-ensemble``, ``enas-breast-unweighted-ensemble``,
``se-bbnas-breast-ensemble``, ``se-bbnas-breast-margin``) picks a subset, and
``MEDVISION_BENCH_SEARCH_THREADS`` caps PyTorch's CPU threads, so that two
searches can share the two cores.

``inheritance`` runs the same BbNAS search on an MNIST subset twice, children
from scratch (the paper) and inheriting, each for
``MEDVISION_BENCH_SEARCH_INHERIT_BUDGET`` seconds (smoke 240, full 1800),
and reports candidates trained per hour (and children per hour, leaving out
the initial model both arms train alike); ``MEDVISION_BENCH_SEARCH_INHERIT_LIMIT``
sets the training images (smoke 500, full 3000). ``executors`` runs one small search
(two workers, fixed work) on the process pool and on a local Ray instance,
alternating for two rounds, and reports each one's fastest wall time,
start-up included (the issue's goal: Ray at most 1.1x).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEDVISION_SHARED", ROOT.parent / "shared")) / "data"
CONFIGS = ROOT / "examples" / "configs"

PAPER = {
    "bbnas-mnist": {"test_accuracy": 0.9860, "params": 572_474, "gpu_hours": 0.83},
    "se-bbnas-mnist": {"test_accuracy": 0.9919, "params": 2_342_282, "gpu_hours": 2.48},
    "se-bbnas-breast": {"automl_vision": {"accuracy": 0.861, "auc": 0.919}, "autokeras": {"accuracy": 0.831, "auc": 0.871}},
    "se-bbnas-breast-scratch": {"automl_vision": {"accuracy": 0.861, "auc": 0.919}},
    "enas-breast": {"automl_vision": {"accuracy": 0.861, "auc": 0.919}, "autokeras": {"accuracy": 0.831, "auc": 0.871}},
}

SMOKE = {
    "bbnas-mnist": ("search_bbnas_mnist", {"train_limit": 600, "val_limit": 200, "children_per_iteration": 2,
                                           "max_iterations": 1, "candidate.max_epochs": 1, "final.epochs": 1}),
    "enas-breast": ("search_enas_breastmnist", {"max_iterations": 1, "enas.channels": 8, "enas.layers_per_stage": 1,
                                               "enas.controller_steps": 5, "enas.derive_samples": 3,
                                               "enas.final_channels": 8, "enas.final_shapes": ["enas-7"],
                                               "enas.final_epochs": 1}),
}
# Retraining is capped so that a search and its final model fit in one
# session on one CPU core; the example configs keep the longer defaults.
FULL = {
    # MNIST answers are retrained on all 54,000 training images (the configs' final.train_limit = 0);
    # the SE answer, 1.75 M parameters at 28 x 28, for the config's 5 augmented epochs at about 20 minutes each.
    "bbnas-mnist": ("search_bbnas_mnist", {}),
    "se-bbnas-mnist": ("search_se_bbnas_mnist", {}),
    "se-bbnas-breast": ("search_se_bbnas_breastmnist", {"final.epochs": 30, "final.patience": 6}),
    "enas-breast": ("search_enas_breastmnist", {"enas.final_shapes": ["enas-7"], "enas.final_epochs": 15}),
    # The paper's children from scratch, for comparison with the inheriting search above (whose
    # config now keeps a margin of two validation images and stops after three falls in a row).
    "se-bbnas-breast-scratch": ("search_se_bbnas_breastmnist", {"inherit": False, "final.epochs": 30,
                                                                "final.patience": 6}),
    # The example config's 20 shared epochs end in 15 minutes on one core and
    # left the supernet at the majority class; this lets the budget decide.
    "enas-breast-long": ("search_enas_breastmnist", {"enas.epochs": 60, "enas.final_shapes": ["enas-7"],
                                                     "enas.final_epochs": 15}),
    # The answer retrained as three networks whose probabilities are averaged (final.ensemble):
    # the same search, three times the 15-epoch retraining.
    "enas-breast-ensemble": ("search_enas_breastmnist", {"enas.final_shapes": ["enas-7"], "enas.final_epochs": 15,
                                                         "final.ensemble": 3}),
    # The ENAS authors' unweighted loss and reward (the example config weighs both by class).
    "enas-breast-unweighted-ensemble": ("search_enas_breastmnist", {
        "enas.balanced_loss": False, "enas.balanced_reward": False, "enas.final_shapes": ["enas-7"],
        "enas.final_epochs": 15, "final.ensemble": 3}),
    "se-bbnas-breast-ensemble": ("search_se_bbnas_breastmnist", {"final.init": "scratch", "final.ensemble": 3,
                                                                 "final.epochs": 30, "final.patience": 6}),
    # The answer changes only on a lead beyond one standard error of the validation split (select_margin).
    "se-bbnas-breast-margin": ("search_se_bbnas_breastmnist", {"select_margin": 1.0, "final.epochs": 30,
                                                               "final.patience": 6}),
}
OPT_IN = {"enas-breast-long", "enas-breast-ensemble", "enas-breast-unweighted-ensemble", "se-bbnas-breast-ensemble",
          "se-bbnas-breast-margin"}


def _config(name: str, overrides: dict, budget: float):
    from medvision_app.search.config import SearchConfig
    from medvision_app.utils.config_io import apply_overrides, from_dict, load_config, to_dict

    cfg = load_config(SearchConfig, CONFIGS / f"{name}.toml")
    data = to_dict(cfg)
    data["data"] = str((ROOT / cfg.data).resolve())
    data["budget_seconds"] = budget
    data = apply_overrides(data, [f"{k}={json.dumps(v)}" for k, v in overrides.items()])
    return from_dict(SearchConfig, data)


def _search(key: str, name: str, overrides: dict, budget: float, out: Path) -> dict:
    from medvision_app.search import start_search

    cfg = _config(name, overrides, budget)
    started = time.perf_counter()
    summary = start_search(cfg, out / key)
    final = summary.get("final") or {}
    result = summary.get("result") or {}
    return {
        "budget_s": budget, "wall_s": round(time.perf_counter() - started, 1),
        "search_s": round(summary.get("search_seconds") or 0.0, 1), "stop_reason": summary.get("stop_reason"),
        "candidates": summary.get("candidates"), "iterations": len(summary.get("iterations") or []),
        "returned": result.get("genotype"), "val_accuracy": result.get("val_accuracy"),
        "final": final.get("runs"), "paper": PAPER.get(key),
        "settings": {"config": name, "overrides": overrides, "train_limit": cfg.train_limit, "val_limit": cfg.val_limit},
    }


RESUME_SCRIPT = """
import sys
from medvision_app.search import SearchConfig, start_search
from medvision_app.search.config import CandidateTraining, FinalTraining
cfg = SearchConfig(method="bbnas", data=sys.argv[1], children_per_iteration=2, max_iterations=2, seed=1,
                   train_limit=int(sys.argv[3]), val_limit=300, inherit=False,
                   candidate=CandidateTraining(max_epochs=3, patience=2), final=FinalTraining(epochs=1))
start_search(cfg, sys.argv[2])
"""


def _resume(out: Path, train_limit: int) -> dict:
    """Kill a search with SIGKILL in the middle of candidate 1-0's second epoch, then resume it."""
    from medvision_app.search.state import load_state, read_history

    folder = out / "resume"
    script = out / "resume_run.py"
    script.write_text(RESUME_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, str(script), str(DATA / "mnist"), str(folder), str(train_limit)], env=env)
    checkpoint = folder / "candidates" / "1-0" / "checkpoints" / "last.pt"
    while not checkpoint.exists():
        if proc.poll() is not None:
            raise RuntimeError("the search finished before it could be killed")
        time.sleep(0.02)
    first_epoch_saved = checkpoint.stat().st_mtime
    time.sleep(max(0.5, (first_epoch_saved - (folder / "state.json").stat().st_mtime) / 2))
    os.kill(proc.pid, signal.SIGKILL)
    killed_at = time.time()
    proc.wait()
    before = load_state(folder)
    import torch

    epochs_saved = int(torch.load(checkpoint, map_location="cpu", weights_only=True)["epoch"]) if checkpoint.exists() else 0
    last_save = max(p.stat().st_mtime for p in [folder / "state.json", *folder.glob("candidates/*/checkpoints/last.pt")])
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "medvision_app", "search", "--resume", str(folder)], env=env,
                          capture_output=True, text=True)
    resumed_s = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"resume failed: {done.stderr[-2000:]}")
    after = load_state(folder)
    history = read_history(folder)
    ids = [h["id"] for h in history]
    expected = {"0-0"} | {f"{i}-{k}" for i in range(1, after["iteration"] + 1) for k in range(2)}
    return {
        "killed_during": "candidate 1-0 (mid-epoch)",
        "in_flight_epochs_saved_at_kill": epochs_saved,
        "pending_at_kill": before["pending"],
        "finished_at_kill": len(before["finished"]),
        "seconds_lost": round(killed_at - last_save, 2),
        "resume_wall_s": round(resumed_s, 1),
        "history_lines": len(ids),
        "history_unique_ids": len(ids) == len(set(ids)),
        "history_complete": set(ids) == expected and not after["pending"],
        "stop_reason": after["stop_reason"],
    }


def _bbnas_only(cfg, folder: Path, executor=None) -> dict:
    """The search loop alone (no final retraining): what it trained, and in how long."""
    from medvision_app.search.bbnas import new_state, run_bbnas
    from medvision_app.search.runner import _load
    from medvision_app.search.summary import inheritance_figures

    data = _load(cfg)
    started = time.perf_counter()
    state = run_bbnas(cfg, folder, data, new_state(cfg, data.n_classes), executor=executor)
    wall = time.perf_counter() - started
    recs = [state["candidates"][c] for c in state["finished"]]
    best = max((r["val_accuracy"] for r in recs), default=None)
    # the initial model is the same work in every arm: children per hour leave it out
    initial = sum(float(r["seconds"] or 0.0) for r in recs if not r["parent_id"])
    children = sum(1 for r in recs if r["parent_id"])
    return {"wall_s": round(wall, 1), "search_s": round(state["elapsed"], 1), "stop_reason": state["stop_reason"],
            "candidates": len(recs), "candidates_per_hour": round(len(recs) / max(1e-9, state["elapsed"]) * 3600, 1),
            "children": children, "iterations": state["iteration"], "initial_model_s": round(initial, 1),
            "children_per_hour": round(children / max(1e-9, state["elapsed"] - initial) * 3600, 1),
            "epochs_trained": sum(int(r["epochs"] or 0) for r in recs), "best_val_accuracy": best,
            "returned_val_accuracy": state["candidates"][state["result_id"]]["val_accuracy"] if state["result_id"] else None,
            "inheritance": inheritance_figures(recs)}


def _inheritance(out: Path, budget: float, train_limit: int) -> dict:
    """Candidates trained per hour by the same search, children from scratch and inheriting."""
    results = {}
    for label, inherit in (("from_scratch", False), ("inheriting", True)):
        print(f"   {label}", flush=True)
        cfg = _config("search_bbnas_mnist", {"train_limit": train_limit, "val_limit": max(200, train_limit // 5),
                                             "inherit": inherit}, budget)
        results[label] = _bbnas_only(cfg, out / f"inherit-{label}")
    for key in ("candidates_per_hour", "children_per_hour"):
        a, b = results["from_scratch"][key], results["inheriting"][key]
        results[f"{key}_ratio"] = round(b / a, 2) if a else None
    results["settings"] = {"config": "search_bbnas_mnist", "budget_s": budget, "train_limit": train_limit}
    return results


def _executors(out: Path, rounds: int = 2) -> dict:
    """Wall time of one small search (fixed work: no inheritance, one epoch per child) per executor.

    The executors alternate for ``rounds`` rounds and each keeps its fastest:
    whichever ran first paid for cold caches (its workers' first torch import
    read 2.5x slower here), so a single run in either order measured the order.
    """
    from medvision_app.search.executor import make_executor
    from medvision_app.search.runner import _load

    results: dict = {"process": None, "ray": None, "walls_s": {"process": [], "ray": []}}
    overrides = {"train_limit": 600, "val_limit": 200, "children_per_iteration": 4, "max_iterations": 2,
                 "candidate.max_epochs": 1, "inherit": False, "workers": 2}
    for round_ in range(rounds):
        for name in ("process", "ray"):
            print(f"   {name} (round {round_ + 1})", flush=True)
            cfg = _config("search_bbnas_mnist", {**overrides, "executor": name}, 0)
            data = _load(cfg)
            started = time.perf_counter()
            executor = make_executor(data, cfg.workers, name=name, ray=cfg.ray)
            startup = time.perf_counter() - started
            try:
                figures = _bbnas_only(cfg, out / f"executor-{name}-{round_}", executor=executor)
            finally:
                executor.close()
            figures["startup_s"] = round(startup, 1)
            figures["wall_with_startup_s"] = round(time.perf_counter() - started, 1)
            results["walls_s"][name].append(figures["wall_with_startup_s"])
            if results[name] is None or figures["wall_with_startup_s"] < results[name]["wall_with_startup_s"]:
                results[name] = figures
    results["ray_over_process_wall"] = round(results["ray"]["wall_with_startup_s"]
                                             / results["process"]["wall_with_startup_s"], 2)
    results["goal"] = "ray at most 1.1x the process pool's wall time (each executor's fastest round)"
    results["settings"] = {**overrides, "rounds": rounds}
    return results


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def run() -> dict:
    threads = os.environ.get("MEDVISION_BENCH_SEARCH_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    mode = os.environ.get("MEDVISION_BENCH_SEARCH", "smoke")
    if mode not in ("smoke", "full"):
        raise SystemExit(f"MEDVISION_BENCH_SEARCH={mode!r}: expected smoke or full")
    only = {s for s in os.environ.get("MEDVISION_BENCH_SEARCH_ONLY", "").split(",") if s}
    if mode == "full":
        mnist_budget = float(os.environ.get("MEDVISION_BENCH_SEARCH_MNIST_BUDGET", 3600))
        breast_budget = float(os.environ.get("MEDVISION_BENCH_SEARCH_BREAST_BUDGET", 1800))
        plan = {k: (name, ov, mnist_budget if "mnist" in k else breast_budget) for k, (name, ov) in FULL.items()
                if k in only or k not in OPT_IN}
        resume_limit = 3000
    else:
        budget = float(os.environ.get("MEDVISION_BENCH_SEARCH_SMOKE_BUDGET", 120))
        plan = {k: (name, ov, budget) for k, (name, ov) in SMOKE.items()}
        resume_limit = 600
    keep = os.environ.get("MEDVISION_BENCH_SEARCH_OUT")
    out = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench_search_"))
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"mode": mode, "search_dir": str(out) if keep else None, "torch_threads": _threads()}
    for key, (name, overrides, budget) in plan.items():
        if only and key not in only:
            continue
        print(f"-- {key} ({budget:.0f} s budget)", flush=True)
        results[key] = _search(key, name, overrides, budget, out)
    if not only or "inheritance" in only:
        budget = float(os.environ.get("MEDVISION_BENCH_SEARCH_INHERIT_BUDGET", 1800 if mode == "full" else 240))
        print(f"-- inheritance ({budget:.0f} s per search)", flush=True)
        limit = int(os.environ.get("MEDVISION_BENCH_SEARCH_INHERIT_LIMIT", 3000 if mode == "full" else 500))
        results["inheritance"] = _inheritance(out, budget, limit)
    if not only or "executors" in only:
        print("-- executors", flush=True)
        results["executors"] = _executors(out)
    if not only or "resume" in only:
        print("-- resume after SIGKILL", flush=True)
        results["resume"] = _resume(out, resume_limit)
    return results
