"""The BbNAS / SE-BbNAS loop: generate children, train them, select parents, stop.

Iteration 0 trains the initial model alone. Each later iteration draws
``children_per_iteration`` children from the parents (round-robin) by random
transformations, trains them partially, and keeps the most accurate and the
smallest as the next parents. The search stops when an iteration's best
validation accuracy falls below the previous iteration's (the paper's rule),
or at the iteration or time budget. Its answer is the last best model: the
best of the last iteration before the fall; when the time budget cuts an
iteration short, its best finished child if that one is more accurate.

Every finished candidate updates ``state.json``; every candidate epoch
updates that candidate's checkpoint. A resumed search repeats nothing that
finished and continues the candidate in flight from its last epoch.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Optional

import numpy as np

from medvision_app.events import Cancelled, CancelToken, Emit, ignore
from medvision_app.networks.builder import InvalidGenotype, count_flops, count_parameters
from medvision_app.networks.genotype import format_genotype, initial_genotype, parse
from medvision_app.search.candidates import CandidateResult, CandidateTask
from medvision_app.search.config import SearchConfig
from medvision_app.search.data import SearchData
from medvision_app.search.events import CandidateFinished, CandidateStarted, IterationFinished
from medvision_app.search.executor import Executor, LocalExecutor, make_executor
from medvision_app.search.state import BEST, BudgetToken, save_state
from medvision_app.search.transforms import random_child
from medvision_app.utils.atomic import atomic_write_text
from medvision_app.utils.config_io import to_dict

log = logging.getLogger(__name__)


def new_state(cfg: SearchConfig, n_classes: int) -> dict:
    return {
        "version": 1, "method": cfg.method, "config": to_dict(cfg), "n_classes": n_classes,
        "phase": "search", "iteration": -1, "candidates": {}, "finished": [], "pending": [],
        "parents": [], "iterations": [], "rng": np.random.default_rng(cfg.seed).bit_generator.state,
        "elapsed": 0.0, "stop_reason": None, "result_id": None,
    }


def _task(cfg: SearchConfig, folder: Path, rec: dict) -> CandidateTask:
    return CandidateTask(
        iteration=rec["iteration"], candidate_id=rec["id"], parent_id=rec["parent_id"],
        transformation=rec["transformation"], genotype=rec["genotype"], params=rec["params"],
        flops=rec["flops"], seed=rec["seed"], settings=cfg.candidate,
        checkpoint=str(folder / "candidates" / rec["id"]), device=cfg.device,
    )


def _record(iteration: int, cid: str, parent: Optional[str], transformation: str, genotype, shape, seed: int) -> dict:
    return {
        "iteration": iteration, "id": cid, "parent_id": parent, "transformation": transformation,
        "genotype": format_genotype(genotype), "params": count_parameters(genotype, shape),
        "flops": count_flops(genotype, shape), "seed": seed,
    }


def _generate(state: dict, cfg: SearchConfig, shape: tuple[int, int, int]) -> None:
    """Draw the next iteration's children into ``state['pending']`` (and advance the RNG)."""
    it = state["iteration"] + 1
    state["iteration"] = it
    if it == 0:
        g = initial_genotype(cfg.block, state["n_classes"])
        rec = _record(0, "0-0", None, "initial", g, shape, cfg.seed)
        state["candidates"][rec["id"]] = rec
        state["pending"] = [rec["id"]]
        return
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    seen = frozenset(rec["genotype"] for rec in state["candidates"].values())
    parents = state["parents"]
    for k in range(cfg.children_per_iteration):
        parent = state["candidates"][parents[k % len(parents)]]
        try:
            child = random_child(parse(parent["genotype"]), rng, block=cfg.block, input_shape=shape,
                                 max_params=cfg.max_params, exclude=seen)
        except InvalidGenotype as exc:
            log.warning("iteration %d: no child %d: %s", it, k, exc)
            continue
        seen = seen | {format_genotype(child.genotype)}
        rec = _record(it, f"{it}-{k}", parent["id"], child.transformation, child.genotype, shape,
                      cfg.seed * 1_000_003 + it * 1000 + k)
        state["candidates"][rec["id"]] = rec
        state["pending"].append(rec["id"])
    state["rng"] = rng.bit_generator.state


def _finished_in(state: dict, iteration: int) -> list[dict]:
    return [state["candidates"][c] for c in state["finished"] if state["candidates"][c]["iteration"] == iteration]


def _most_accurate(recs: list[dict]) -> dict:
    """The best validation accuracy; of equals, the smallest."""
    return max(recs, key=lambda r: (r["val_accuracy"], -r["params"]))


def _close_iteration(state: dict, emit: Emit) -> Optional[str]:
    """Select the next parents; return a stop reason when the accuracy fell."""
    it = state["iteration"]
    recs = _finished_in(state, it)
    best = _most_accurate(recs)
    smallest = min(recs, key=lambda r: (r["params"], -r["val_accuracy"]))
    entry = {"iteration": it, "best_id": best["id"], "best_accuracy": best["val_accuracy"],
             "smallest_id": smallest["id"], "smallest_params": smallest["params"]}
    reason = None
    if state["iterations"] and best["val_accuracy"] < state["iterations"][-1]["best_accuracy"]:
        reason = "accuracy fell"
    else:
        state["result_id"] = best["id"]
        state["parents"] = list(dict.fromkeys([best["id"], smallest["id"]]))
    state["iterations"].append(entry)
    emit(IterationFinished(it, best["id"], best["val_accuracy"], smallest["id"], smallest["params"], reason))
    return reason


def _adopt_interrupted_best(state: dict) -> None:
    """At the time budget, mid-iteration: a finished child more accurate than the last best becomes the answer.

    The paper's rule compares whole iterations, which an interrupted one is
    not; but its finished children were paid for, and the user asked for the
    best model the budget could find.
    """
    it = state["iteration"]
    recs = _finished_in(state, it)
    if not recs or state["result_id"] is None:
        return
    best = _most_accurate(recs)
    if best["val_accuracy"] > state["candidates"][state["result_id"]]["val_accuracy"]:
        state["result_id"] = best["id"]
        state["result_from_interrupted_iteration"] = it


def _write_best(folder: Path, state: dict) -> None:
    rid = state.get("result_id")
    if rid is None:
        return
    rec = state["candidates"][rid]
    best = {k: rec.get(k) for k in ("id", "iteration", "genotype", "params", "flops", "val_accuracy", "loss", "epochs")}
    atomic_write_text(folder / BEST, json.dumps(best, indent=2) + "\n")


def run_bbnas(  # noqa: C901 - the paper's loop; split when issue 15 moves it onto the engine
    cfg: SearchConfig,
    folder: Path,
    data: SearchData,
    state: dict,
    *,
    emit: Emit = ignore,
    cancel: Optional[CancelToken] = None,
    executor: Optional[Executor] = None,
) -> dict:
    """Run (or continue) the search in ``folder``; return the final state.

    ``state`` is :func:`new_state` for a fresh search or the loaded
    ``state.json`` for a resumed one. ``executor`` defaults to one built from
    ``cfg.workers``. Raises :class:`Cancelled` when ``cancel`` fires; the
    folder can then be resumed.
    """
    folder = Path(folder)
    shape = data.input_shape
    left = None if cfg.budget_seconds <= 0 else cfg.budget_seconds - state["elapsed"]
    token = BudgetToken(cancel, left)
    own_executor = executor is None
    if executor is None:
        executor = make_executor(data, cfg.workers, emit=emit, cancel=token)
    elif isinstance(executor, LocalExecutor):
        executor.cancel = token
    clock = time.monotonic()
    base_elapsed = state["elapsed"]

    def checkpoint() -> None:
        state["elapsed"] = base_elapsed + time.monotonic() - clock
        save_state(folder, state)
        _write_best(folder, state)

    def on_start(task: CandidateTask) -> None:
        emit(CandidateStarted(task.iteration, task.candidate_id, task.parent_id, task.transformation,
                              task.genotype, task.params, task.flops))

    def on_done(task: CandidateTask, result: CandidateResult) -> None:
        rec = state["candidates"][task.candidate_id]
        rec.update(val_accuracy=result.accuracy, loss=result.loss, epochs=result.epochs, seconds=result.seconds)
        state["pending"].remove(task.candidate_id)
        state["finished"].append(task.candidate_id)
        emit(CandidateFinished(task.iteration, task.candidate_id, task.parent_id, task.transformation, task.genotype,
                               task.params, task.flops, result.accuracy, result.loss, result.epochs, result.seconds))
        checkpoint()

    try:
        while state["stop_reason"] is None:
            if not state["pending"]:
                if cfg.max_iterations and state["iteration"] >= cfg.max_iterations:
                    state["stop_reason"] = "iteration budget"
                    break
                if left is not None and token.cancelled:
                    state["stop_reason"] = "time budget"
                    break
                _generate(state, cfg, shape)
                if not state["pending"]:
                    state["iteration"] -= 1
                    state["stop_reason"] = "no new valid children"
                    break
                checkpoint()
            tasks = [_task(cfg, folder, state["candidates"][c]) for c in state["pending"]]
            try:
                for task, result in executor.evaluate(tasks, on_start=on_start):
                    on_done(task, result)
            except Cancelled:
                if token.reason != "time budget":
                    raise
                state["stop_reason"] = "time budget"
                _adopt_interrupted_best(state)
                break
            reason = _close_iteration(state, emit)
            if reason:
                state["stop_reason"] = reason
            checkpoint()
    finally:
        token.close()
        if own_executor:
            executor.close()
    if state["result_id"] is None:
        state["stop_reason"] = (state["stop_reason"] or "") + " before the initial model finished"
    state["phase"] = "final"
    checkpoint()
    return state
