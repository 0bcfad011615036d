"""Test accuracy reached within a CPU wall-clock budget: BreastMNIST, then (optionally) HAM10000.

Each candidate is an ordinary run configuration (the same tree as a TOML
config) trained with :func:`~medvision_app.training.run.start_run` into its
own run folder under ``MEDVISION_BENCH_RUNS`` (default
``/tmp/mv-bench-runs``). A handler cancels the run once its wall-clock
budget is spent (only after a first checkpoint exists); the best
checkpoint (monitored on the validation split) is then evaluated on the
test split. Runs that stop early or complete are evaluated by the run
itself. The budget counts everything: data preparation, training,
validation and the test evaluation.

``python -m bench accuracy`` trains the shipped models' recipes
(``bench/accuracy_recipes.py``, ``examples/configs/recipe_*.toml``, at most an
hour each), exports each and re-checks the file against its card;
``MEDVISION_BENCH_ACCURACY=all`` adds the earlier candidates below (BreastMNIST
about an hour, HAM10000 45 minutes each), ``=candidates`` runs only the
BreastMNIST ones. ``python -m bench.bench_accuracy NAME [NAME ...]`` runs chosen
candidates and merges each result into ``bench/results/accuracy.json`` as
soon as it is known, so that a long session keeps what it has measured.

The machine is a shared 2-core CPU: runs use one intra-op thread
(measured 3-5x faster than two threads while other programs use the
cores), and the 1/5/15-minute load averages are recorded at start and end.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
BREAST = SHARED / "breastmnist" / "breastmnist.npz"
HAM = SHARED / "ham10000-200x150"
RESULTS = HERE / "results" / "accuracy.json"
THREADS = 1

ANCHORS = {
    "breastmnist": {
        "resnet18_28_from_scratch": {"auc": 0.901, "acc": 0.863},
        "google_automl_vision": {"auc": 0.919, "acc": 0.861},
    },
    "ham10000": {"mobilenetv3_large_sa_metadata_paper": {"acc": 0.86}},
}

_BREAST_TRAIN = {
    "batch_size": 32,
    "optimizer": "adam",
    "seed": 0,
    "device": "cpu",
    "deterministic": False,
    "cpu_threads": THREADS,
}
_BREAST_AUG = {
    "horizontal_flip": 0.5,
    "rotation": {"probability": 1.0, "degrees": [-15.0, 15.0]},
    "zoom": {"probability": 1.0, "amount": 0.1},
}


def _lite0_breast(soft_attention: bool) -> dict:
    return {
        "dataset": "breastmnist",
        "budget_s": 20 * 60,
        "config": {
            "description": "EfficientNet-Lite0 (ImageNet) on BreastMNIST, 128 px"
            + (" + Soft-Attention" if soft_attention else ""),
            "data": {"path": str(BREAST)},
            "model": {
                "name": "efficientnet_lite0",
                "pretrained": "imagenet",
                "input_size": 128,
                "in_channels": 3,
                "soft_attention": soft_attention,
                "new_layer_lr_factor": 10.0,
            },
            "train": {
                **_BREAST_TRAIN,
                "epochs": 40,
                "lr": 2e-4,
                "weight_decay": 1e-5,
                "early_stopping": {"monitor": "val_auc", "patience": 8},
                "plateau": {"enabled": True, "monitor": "val_loss", "factor": 0.2, "patience": 4},
            },
            "augmentation": _BREAST_AUG,
        },
    }


def _ham(model: str, with_metadata: bool, size: int = 64) -> dict:
    return {
        "dataset": "ham10000",
        "budget_s": 45 * 60,
        "config": {
            "description": f"{model} (ImageNet) + Soft-Attention on HAM10000 at {size} px, split by lesion"
            + (" + metadata + weighted loss" if with_metadata else ""),
            "data": {"path": str(HAM), "format": "ham10000", "use_metadata": with_metadata,
                     "split": {"ratios": [0.85, 0.1, 0.05]}},
            "model": {
                "name": model,
                "pretrained": "imagenet",
                "input_size": size,
                "soft_attention": True,
                "metadata": with_metadata,
                "new_layer_lr_factor": 10.0,
            },
            "train": {
                "batch_size": 32,
                "optimizer": "adam",
                "seed": 0,
                "device": "cpu",
                "deterministic": False,
                "cpu_threads": THREADS,
                "epochs": 30,
                "lr": 3e-4,
                "loss": "weighted_ce" if with_metadata else "ce",
                "early_stopping": {"monitor": "val_accuracy", "patience": 8},
                "plateau": {"enabled": True, "monitor": "val_loss", "factor": 0.2, "patience": 2},
            },
            "augmentation": {"horizontal_flip": 0.5, "vertical_flip": 0.5,
                             "rotation": {"probability": 1.0, "degrees": [-30.0, 30.0]}},
        },
    }


CANDIDATES = {
    "breast_pnet_64": {
        "dataset": "breastmnist",
        "budget_s": 20 * 60,
        "config": {
            "description": "P-NET from scratch on BreastMNIST, 28 px images resized to 64 px, one channel",
            "data": {"path": str(BREAST)},
            "model": {"name": "pnet", "pretrained": "none", "input_size": 64, "in_channels": 1,
                      "dense_units": 256, "dense_dropout": 0.2},
            "train": {
                **_BREAST_TRAIN,
                "epochs": 80,
                "lr": 1e-3,
                "weight_decay": 1e-4,
                "early_stopping": {"monitor": "val_auc", "patience": 15},
                "plateau": {"enabled": True, "monitor": "val_loss", "factor": 0.2, "patience": 6},
            },
            "augmentation": _BREAST_AUG,
        },
    },
    "breast_lite0_128": _lite0_breast(False),
    "breast_lite0_sa_128": _lite0_breast(True),
    "ham_lite0_sa_meta_wce_64": _ham("efficientnet_lite0", True),
    "ham_lite0_sa_64": _ham("efficientnet_lite0", False),
}


def _load() -> tuple[float, float, float]:
    return tuple(round(v, 2) for v in os.getloadavg())


def run_candidate(name: str, root: Path, budget_s: float | None = None) -> dict:
    """Train candidate ``name`` into ``root/name`` within its budget; its test figures."""
    import torch

    from bench.accuracy_recipes import budget_stopper
    from medvision_app.events import CancelToken
    from medvision_app.training.config import TrainConfig
    from medvision_app.training.run import evaluate_run, start_run
    from medvision_app.utils.config_io import from_dict

    spec = CANDIDATES[name]
    budget = float(budget_s if budget_s is not None else spec["budget_s"])
    config = from_dict(TrainConfig, spec["config"])
    run_dir = root / name
    cancel = CancelToken()
    started = time.perf_counter()
    load_start = _load()
    stop_when_spent = budget_stopper(budget, cancel, started)

    previous = torch.get_num_threads()
    try:
        result = start_run(config, run_dir, emit=stop_when_spent, cancel=cancel)
    finally:
        torch.set_num_threads(previous)
    train_s = time.perf_counter() - started
    if result.reason == "cancelled":  # out of time: the run did not evaluate; use its best checkpoint
        report = evaluate_run(run_dir, "test")
    else:
        report = json.loads((run_dir / "eval.json").read_text())
    wall_s = time.perf_counter() - started
    macro = report.get("macro") or {}
    figures = {
        "dataset": spec["dataset"],
        "run_dir": str(run_dir),
        "model": spec["config"]["model"]["name"],
        "input_size": config.model.input_size,
        "soft_attention": config.model.soft_attention,
        "metadata": config.model.metadata,
        "loss": config.train.loss,
        "epochs_max": config.train.epochs,
        "epochs_run": result.epochs_run,
        "stop_reason": "budget spent" if result.reason == "cancelled" else result.reason,
        "best_epoch": result.best_epoch,
        "best_val": None if result.best_value is None else round(float(result.best_value), 4),
        "monitor": config.train.early_stopping.monitor,
        "budget_s": budget,
        "train_s": round(train_s, 1),
        "wall_s": round(wall_s, 1),
        "wall_min": round(wall_s / 60, 1),
        "cpu_threads": config.train.cpu_threads,
        "loadavg_start": load_start,
        "loadavg_end": _load(),
        "test_samples": json.loads((run_dir / "config.json").read_text())["run"]["test_samples"],
        "test_accuracy": round(report["accuracy"], 4),
        "test_balanced_accuracy": round(report["balanced_accuracy"], 4),
        "test_auc": None if report.get("auc") is None else round(report["auc"], 4),
        "config": spec["config"],
    }
    f1 = macro.get("f1") if isinstance(macro, dict) else None
    if f1 is not None:
        figures["test_macro_f1"] = round(float(f1), 4)
    return figures


def _merge(name: str, figures: dict) -> None:
    try:
        record = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        record = {}
    record.setdefault("benchmark", "accuracy")
    record.setdefault("started", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    if "machine" not in record:
        from bench.__main__ import machine

        record["machine"] = machine()
    result = record.setdefault("result", {})
    result["anchors"] = ANCHORS
    runs = result.setdefault("runs", {})
    previous = runs.get(name)
    if "failed" in figures and isinstance(previous, dict) and "failed" not in previous:
        # a failed attempt is recorded beside the figures it did not replace
        figures = {**previous, "last_attempt_failed": figures["failed"]}
    runs[name] = figures
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    from medvision_app.utils.atomic import atomic_write_text

    atomic_write_text(RESULTS, json.dumps(record, indent=2) + "\n")


def _root() -> Path:
    return Path(os.environ.get("MEDVISION_BENCH_RUNS", "/tmp/mv-bench-runs")) / time.strftime("%Y%m%dT%H%M%S")


def run() -> dict:
    """The shipped models' recipes (bench/accuracy_recipes.py); ``MEDVISION_BENCH_ACCURACY=all`` adds the
    earlier candidates above, ``=candidates`` runs only those (BreastMNIST ones unless ``all``)."""
    from bench.accuracy_recipes import ANCHORS as RECIPE_ANCHORS
    from bench.accuracy_recipes import RECIPES, data_path, run_recipe

    which = os.environ.get("MEDVISION_BENCH_ACCURACY", "recipes")
    root = _root()
    runs = {}
    if which in ("recipes", "all"):
        for name in RECIPES:
            if not data_path(name).exists():
                runs[name] = {"skipped": f"{data_path(name)} is absent"}
                continue
            runs[name] = run_recipe(name, root)
            _merge(name, runs[name])
    if which == "recipes":
        return {"anchors": RECIPE_ANCHORS, "runs": runs}
    names = [n for n, s in CANDIDATES.items() if s["dataset"] == "breastmnist" or which == "all"]
    for name in names:
        path = BREAST if CANDIDATES[name]["dataset"] == "breastmnist" else HAM
        if not path.exists():
            runs[name] = {"skipped": f"{path} is absent"}
            continue
        runs[name] = run_candidate(name, root)
    return {"anchors": {**ANCHORS, **RECIPE_ANCHORS}, "runs": runs}


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE.parent))
    parser = argparse.ArgumentParser(prog="python -m bench.bench_accuracy")
    from bench.accuracy_recipes import RECIPES, run_recipe

    parser.add_argument("names", nargs="+", choices=sorted(CANDIDATES) + sorted(RECIPES))
    parser.add_argument("--root", type=Path, default=None, help="folder for the run folders")
    parser.add_argument("--budget-s", type=float, default=None, help="override each candidate's budget")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe's setting (as medvision train --set), e.g. train.epochs=8")
    args = parser.parse_args(argv)
    root = args.root or _root()
    for name in args.names:
        print(f"== {name} -> {root / name}  ({time.strftime('%H:%M:%S')}, load {_load()})", flush=True)
        try:
            figures = (run_recipe(name, root, args.budget_s, args.overrides) if name in RECIPES
                       else run_candidate(name, root, args.budget_s))
        except Exception as exc:  # keep going with the next candidate; record the failure
            figures = {"failed": f"{type(exc).__name__}: {exc}", "run_dir": str(root / name)}
        _merge(name, figures)
        print(json.dumps({k: v for k, v in figures.items() if k != "config"}, indent=2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
