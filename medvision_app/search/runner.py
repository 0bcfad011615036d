"""Start or resume a search in a folder, from the search through the retrained final model.

Phases, recorded in ``state.json``: ``search`` (BbNAS iterations or ENAS
epochs), ``final`` (retraining the result as a run folder), ``done``. A
resumed search picks up at the phase and the step it was in.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional

from medvision_app.events import CancelToken, Emit, ignore
from medvision_app.networks import SearchedArchitecture
from medvision_app.networks.enas_space import SHAPES, Arc
from medvision_app.search.bbnas import new_state, run_bbnas
from medvision_app.search.candidates import from_bytes
from medvision_app.search.config import SearchConfig
from medvision_app.search.data import load_search_data
from medvision_app.search.enas_search import new_enas_state, run_enas
from medvision_app.search.events import SearchFinished
from medvision_app.search.executor import Executor
from medvision_app.search.final import final_model_config, retrain_and_evaluate
from medvision_app.search.state import SearchStateError, load_state, read_weights, save_state
from medvision_app.search.summary import build_summary, write_summary
from medvision_app.utils.atomic import atomic_write_text
from medvision_app.utils.config_io import from_dict, to_dict
from medvision_app.utils.folder_lock import folder_lock


def start_search(cfg: SearchConfig, out: Path, *, emit: Emit = ignore, cancel: Optional[CancelToken] = None,
                 executor: Optional[Executor] = None) -> dict:
    """Run a new search in ``out`` (which must not hold one already); return the summary."""
    out = Path(out)
    if (out / "state.json").exists():
        raise SearchStateError(f"{out}: already holds a search; resume it or choose another folder")
    if not cfg.data:
        raise SearchStateError("no dataset given (data = PATH)")
    if out.exists() and not out.is_dir():
        raise SearchStateError(f"{out}: is a file, not a search folder; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    # One job per folder: a second search here would interleave candidates and state (fails at once).
    with folder_lock(out):
        if (out / "state.json").exists():
            raise SearchStateError(f"{out}: already holds a search; resume it or choose another folder")
        data = _load(cfg)
        state = new_enas_state(cfg, data.n_classes) if cfg.method == "enas" else new_state(cfg, data.n_classes)
        state["config"] = to_dict(cfg)
        atomic_write_text(out / "search_config.json", json.dumps(to_dict(cfg), indent=2) + "\n")
        save_state(out, state)
        return _continue(cfg, out, data, state, emit, cancel, executor)


def resume_search(out: Path, *, emit: Emit = ignore, cancel: Optional[CancelToken] = None,
                  overrides: Optional[dict] = None, executor: Optional[Executor] = None) -> dict:
    """Continue the search in ``out``; ``overrides`` may change budgets and workers, nothing else."""
    out = Path(out)
    if not out.is_dir():
        raise SearchStateError(f"{out}: no such search folder")
    with folder_lock(out):
        return _resume_locked(out, emit, cancel, overrides, executor)


def _resume_locked(out: Path, emit: Emit, cancel: Optional[CancelToken], overrides: Optional[dict],
                   executor: Optional[Executor]) -> dict:
    state = load_state(out)
    cfg = from_dict(SearchConfig, state["config"])
    allowed = {"budget_seconds", "max_iterations", "workers", "device", "executor", "ray_address"}
    bad = set(overrides or {}) - allowed
    if bad:
        raise SearchStateError(f"{out}: a resumed search can only change {', '.join(sorted(allowed))}, not {', '.join(sorted(bad))}")
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    if "ray_address" in changes:  # where the workers are, not what the search is
        changes["ray"] = dataclasses.replace(cfg.ray, address=changes.pop("ray_address"))
    cfg = dataclasses.replace(cfg, **changes)
    state["config"] = to_dict(cfg)
    if state["phase"] == "done":
        return json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return _continue(cfg, out, _load(cfg), state, emit, cancel, executor)


def _load(cfg: SearchConfig):
    return load_search_data(cfg.data, seed=cfg.seed, train_limit=cfg.train_limit, val_limit=cfg.val_limit,
                            val_fraction=cfg.val_fraction)


def _continue(cfg, out, data, state, emit, cancel, executor) -> dict:
    if state["phase"] == "search":
        if cfg.method == "enas":
            state = run_enas(cfg, out, data, state, emit=emit, cancel=cancel)
        else:
            state = run_bbnas(cfg, out, data, state, emit=emit, cancel=cancel, executor=executor)
    final = None
    if state["phase"] == "final" and state.get("result_id"):
        final = _final(cfg, out, data, state, emit, cancel)
        state["final"] = final
    state["phase"] = "done"
    save_state(out, state)
    summary = build_summary(state, final)
    write_summary(out, summary)
    result = summary.get("result") or {}
    main = (final or {}).get("runs", [{}])[0] if final else {}
    emit(SearchFinished(cfg.method, result.get("genotype", ""), int(result.get("params") or 0),
                        main.get("accuracy"), main.get("run_dir"), state.get("stop_reason") or ""))
    return summary


def _final_data(cfg: SearchConfig, data):
    """The search's data with the training images of ``final.train_limit`` (the same validation and test)."""
    limit = cfg.final.train_limit
    if limit is None or limit == cfg.train_limit:
        return data
    # The validation images are carved from the training split before any subsample, so the
    # larger training set stays disjoint from the search's validation set.
    full = load_search_data(cfg.data, seed=cfg.seed, train_limit=limit, val_limit=0, val_fraction=cfg.val_fraction)
    return dataclasses.replace(data, x_train=full.x_train, y_train=full.y_train)


def _final(cfg, out, data, state, emit, cancel) -> dict:
    rec = state["candidates"][state["result_id"]]
    runs = []
    f = cfg.final
    data = _final_data(cfg, data)
    if cfg.method == "enas":
        arc = Arc.from_json(rec["arc"])
        e = cfg.enas
        for shape in e.final_shapes:
            if shape not in SHAPES:
                raise SearchStateError(f"unknown final shape {shape!r}; expected one of {', '.join(SHAPES)}")
            model = final_model_config(data, name="enas", ensemble=f.ensemble, architecture=SearchedArchitecture(
                text=str(arc), layout=list(SHAPES[shape]), channels=e.final_channels, nodes=e.nodes))
            report = retrain_and_evaluate(
                model, data, cfg.data, out / f"final-{shape}", optimizer="sgdm", lr=e.child_lr_max,
                weight_decay=e.child_weight_decay, epochs=e.final_epochs, patience=e.final_epochs,
                batch_size=e.batch_size, seed=cfg.seed, device=cfg.device, cosine=True, eval_settings=f.eval,
                ema_decay=f.ema_decay, augmentation=f.augmentation,
                emit=emit, cancel=cancel,
                description=f"{_members(f.ensemble)}{shape} from the ENAS search in {out}, retrained with Nesterov "
                            f"SGD and a cosine schedule {e.child_lr_max} to {e.child_lr_max * 0.01}",
            )
            runs.append(_brief(shape, out / f"final-{shape}", report))
    else:
        model = final_model_config(data, name="genotype", ensemble=f.ensemble,
                                   architecture=SearchedArchitecture(text=rec["genotype"]))
        initial = _search_weights(out, state["result_id"]) if f.init == "search" else None
        report = retrain_and_evaluate(
            model, data, cfg.data, out / "final", lr=f.lr, weight_decay=f.weight_decay, epochs=f.epochs,
            patience=f.patience, batch_size=f.batch_size, seed=cfg.seed, device=cfg.device,
            cosine=f.schedule == "cosine", eval_settings=f.eval, initial_weights=initial, emit=emit, cancel=cancel,
            ema_decay=f.ema_decay, augmentation=f.augmentation,
            description=f"{_members(f.ensemble)}{cfg.method} search result {rec['genotype']} from {out}, "
                        + ("fine-tuned from the search's weights" if initial is not None else "retrained")
                        + " with Adam" + (" and a cosine schedule" if f.schedule == "cosine" else ""),
        )
        runs.append(_brief("genotype", out / "final", report))
    return {"runs": runs, "accuracy": runs[0]["accuracy"], "auc": runs[0]["auc"], "run_dir": runs[0]["run_dir"]}


def _members(ensemble: int) -> str:
    return f"ensemble of {ensemble} x " if ensemble > 1 else ""


def _search_weights(out: Path, candidate_id: str) -> dict:
    """The weights the search trained for its answer; SearchStateError when they are not kept."""
    data = read_weights(out, candidate_id)
    if data is None:
        raise SearchStateError(f"{out}: final.init = 'search' needs the answer's weights "
                               f"(weights/{candidate_id}.pt), which only a search whose children inherit keeps")
    return from_bytes(data)


def _brief(name: str, run_dir: Path, report: dict) -> dict:
    """A retrained network's figures; ``accuracy`` at its operating threshold when final.eval chose one."""
    brief = {"name": name, "run_dir": str(run_dir), "accuracy": report["accuracy"], "auc": report.get("auc"),
             "params": report["params"], "epochs": report["epochs"], "train_seconds": report["train_seconds"]}
    chosen = report.get("operating_threshold")
    if chosen:
        test = chosen["test"]
        brief.update(argmax_accuracy=report["accuracy"], accuracy=test["accuracy"], threshold=chosen["threshold"],
                     sensitivity=test.get("sensitivity"), specificity=test.get("specificity"))
    if report.get("calibration", {}).get("ece_after") is not None:
        brief["ece_after"] = report["calibration"]["ece_after"]
    return brief
