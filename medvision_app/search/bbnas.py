"""The BbNAS / SE-BbNAS loop: generate children, train them, select parents, stop.

Iteration 0 trains the initial model alone. Each later iteration draws
``children_per_iteration`` children from the parents (round-robin) by random
transformations, trains them partially, and keeps the most accurate and the
smallest as the next parents. The search stops when an iteration's best
validation accuracy falls below the previous iteration's (the paper's rule;
with ``stop_patience`` > 1, at that many falls in a row, the parents kept
between them), or at the iteration or time budget. Its answer is the last best model: the
best of the last iteration before the fall; when the time budget cuts an
iteration short, its best finished child if that one is more accurate. With
``select_margin``, a new best becomes the answer only when its lead is larger
than the validation split's noise.

Every finished candidate updates ``state.json``; every candidate epoch
updates that candidate's checkpoint. A resumed search repeats nothing that
finished and continues the candidate in flight from its last epoch.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
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
from medvision_app.search.executor import Executor, make_executor
from medvision_app.search.search_state import SearchState
from medvision_app.search.state import BEST, WEIGHTS, BudgetToken, read_weights, save_state, write_weights
from medvision_app.search.transforms import random_child
from medvision_app.utils.atomic import atomic_write_text
from medvision_app.utils.config_io import to_dict

log = logging.getLogger(__name__)


def new_state(cfg: SearchConfig, n_classes: int) -> SearchState:
    return SearchState(method=cfg.method, config=to_dict(cfg), n_classes=n_classes,
                       rng=np.random.default_rng(cfg.seed).bit_generator.state)


def discard_margin(cfg: SearchConfig, n_val: int) -> float:
    """How far a child may trail its parent after one epoch: ``discard_margin``, at least
    ``discard_min_images`` validation images' worth (on 78 images one image is 0.013)."""
    return max(cfg.discard_margin, cfg.discard_min_images / n_val if n_val > 0 else 0.0)


def lead_is_noise(new: float, old: float, n_val: int, k: float) -> bool:
    """Whether ``new``'s validation lead over ``old`` is within ``k`` standard errors of their difference.

    The two accuracies are taken as independent binomial proportions on
    ``n_val`` images (the candidates return no per-image predictions to pair);
    the error is at least one image, so that two perfect scores do not make
    a zero-width test. ``k = 0`` counts any lead or a tie, the paper's rule.
    """
    if k <= 0 or n_val <= 0:
        return False
    se = math.sqrt((new * (1.0 - new) + old * (1.0 - old)) / n_val)
    return new - old <= k * max(se, 1.0 / n_val)


def _task(cfg: SearchConfig, folder: Path, state: dict, rec: dict, executor: Executor, n_val: int) -> CandidateTask:
    """The task of a pending candidate: with its parent's weights when the search inherits."""
    parent = state["candidates"].get(rec["parent_id"]) if rec["parent_id"] else None
    weights = read_weights(folder, parent["id"]) if cfg.inherit and parent else None
    inherit = weights is not None
    discard = None
    if inherit and cfg.early_discard and parent.get("val_accuracy") is not None:
        discard = float(parent["val_accuracy"]) - discard_margin(cfg, n_val)
    return CandidateTask(
        iteration=rec["iteration"], candidate_id=rec["id"], parent_id=rec["parent_id"],
        transformation=rec["transformation"], genotype=rec["genotype"], params=rec["params"],
        flops=rec["flops"], seed=rec["seed"], settings=cfg.candidate,
        checkpoint=str(folder / "candidates" / rec["id"]) if executor.local_files else None, device=cfg.device,
        parent_genotype=parent["genotype"] if parent else None, parent_weights=weights, inherit=inherit,
        max_epochs=cfg.candidate.inherited_max_epochs if inherit else None, discard_below=discard,
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


# Iterations in a row whose every child was discarded before the search gives up.
DISCARDED_ITERATIONS = 3


def _streak(iterations: list[dict], flag: str) -> int:
    """How many iterations in a row carry ``flag``, counting the one being closed."""
    streak = 1
    for e in reversed(iterations):
        if not e.get(flag):
            break
        streak += 1
    return streak


def _close_iteration(state: dict, emit: Emit, patience: int = 1, n_val: int = 0, margin: float = 0.0) -> Optional[str]:
    """Select the next parents; return a stop reason when the accuracy fell ``patience`` iterations in a row.

    Children stopped early (discarded, halted) are chosen only when no child
    of the iteration trained to its end. An iteration whose every child was
    discarded after one epoch compared nothing trained with its parents: the
    parents stay and new children are drawn, up to ``DISCARDED_ITERATIONS``
    such iterations in a row. An iteration whose best fell below the best so
    far, short of ``patience`` falls in a row, is recorded as ``fell``: its
    children are not chosen, the parents and the answer stay. An iteration
    whose best leads the answer by no more than ``margin`` standard errors on
    ``n_val`` validation images is recorded as ``within_noise``: its best and
    smallest become the parents, the answer stays.
    """
    it = state["iteration"]
    recs = _finished_in(state, it)
    trained = [r for r in recs if not (r.get("discarded") or r.get("halted"))]
    all_discarded = not trained and all(r.get("discarded") for r in recs)
    recs = trained or recs
    best = _most_accurate(recs)
    smallest = min(recs, key=lambda r: (r["params"], -r["val_accuracy"]))
    entry = {"iteration": it, "best_id": best["id"], "best_accuracy": best["val_accuracy"],
             "smallest_id": smallest["id"], "smallest_params": smallest["params"]}
    compared = [e for e in state["iterations"] if not (e.get("all_discarded") or e.get("fell"))]
    reason = None
    if all_discarded:
        entry["all_discarded"] = True
        streak = _streak(state["iterations"], "all_discarded")
        if streak >= DISCARDED_ITERATIONS:
            reason = f"every child discarded in {streak} iterations"
    elif compared and best["val_accuracy"] < compared[-1]["best_accuracy"]:
        entry["fell"] = True
        falls = _streak(state["iterations"], "fell")
        if falls >= patience:
            reason = "accuracy fell" if patience == 1 else f"accuracy fell in {falls} iterations in a row"
    else:
        answer = state["candidates"].get(state["result_id"]) if state["result_id"] else None
        if answer and lead_is_noise(best["val_accuracy"], answer["val_accuracy"], n_val, margin):
            entry["within_noise"] = True
        else:
            state["result_id"] = best["id"]
        state["parents"] = list(dict.fromkeys([best["id"], smallest["id"]]))
    state["iterations"].append(entry)
    emit(IterationFinished(it, best["id"], best["val_accuracy"], smallest["id"], smallest["params"], reason))
    return reason


def _adopt_interrupted_best(state: dict, n_val: int = 0, margin: float = 0.0) -> None:
    """At the time budget, mid-iteration: a finished child more accurate than the last best becomes the answer.

    The paper's rule compares whole iterations, which an interrupted one is
    not; but its finished children were paid for, and the user asked for the
    best model the budget could find. Its lead must clear ``margin``
    standard errors, as :func:`_close_iteration` asks of a whole iteration.
    """
    it = state["iteration"]
    recs = _finished_in(state, it)
    if not recs or state["result_id"] is None:
        return
    best = _most_accurate(recs)
    incumbent = state["candidates"][state["result_id"]]["val_accuracy"]
    if best["val_accuracy"] > incumbent and not lead_is_noise(best["val_accuracy"], incumbent, n_val, margin):
        state["result_id"] = best["id"]
        state["result_from_interrupted_iteration"] = it


def _write_best(folder: Path, state: dict) -> None:
    rid = state.get("result_id")
    if rid is None:
        return
    rec = state["candidates"][rid]
    best = {k: rec.get(k) for k in ("id", "iteration", "genotype", "params", "flops", "val_accuracy", "loss", "epochs")}
    atomic_write_text(folder / BEST, json.dumps(best, indent=2) + "\n")


def _prune_weights(folder: Path, state: dict) -> None:
    """Keep the weights of the parents and of the answer; the others have no further use."""
    keep = set(state["parents"]) | {state.get("result_id")} | set(state["pending"])
    for path in (folder / WEIGHTS).glob("*.pt") if (folder / WEIGHTS).is_dir() else ():
        if path.stem not in keep:
            path.unlink(missing_ok=True)


def _evaluate(tasks: list[CandidateTask], executor: Executor, cfg: SearchConfig, *, on_start, on_done, emit,
              cancel) -> None:
    """Train an iteration's children; with more children than slots, by successive halving.

    Halving (inheriting children only): every child trains one epoch, then
    the better half (at least one per slot) continues from where it stopped
    to the full epochs; the others are recorded as halted after their epoch.
    """
    inheriting = [t for t in tasks if t.inherit]
    if not (cfg.successive_halving and inheriting and len(tasks) > executor.slots):
        for task, result in executor.evaluate(tasks, on_start=on_start, emit=emit, cancel=cancel):
            on_done(task, result)
        return
    rung = [dataclasses.replace(t, max_epochs=1, keep_state=True) if t.inherit else t for t in tasks]
    done: list[tuple[CandidateTask, CandidateResult]] = []
    try:
        for task, result in executor.evaluate(rung, on_start=on_start, emit=emit, cancel=cancel):
            if task.keep_state:
                done.append((task, result))
            else:
                on_done(task, result)
    except Cancelled:
        for task, result in done:  # paid for: their first epoch is recorded
            on_done(task, dataclasses.replace(result, state=None), halted=not result.discarded)
        raise
    ranked = sorted(done, key=lambda tr: (tr[1].discarded, -tr[1].accuracy))
    keep = max(executor.slots, math.ceil(len(ranked) / 2))
    going = []
    for i, (task, result) in enumerate(ranked):
        if i < keep and not result.discarded and result.epochs < task.settings.inherited_max_epochs:
            going.append((task, result))
            on_done(task, result, partial=True)
        else:  # halted: cut by the halving; a discarded child or one already done is not
            on_done(task, dataclasses.replace(result, state=None), halted=i >= keep and not result.discarded)
    further = [dataclasses.replace(t, max_epochs=t.settings.inherited_max_epochs, keep_state=False,
                                   resume_state=r.state, inherit=False, parent_weights=None, discard_below=None)
               for t, r in going]
    for task, result in executor.evaluate(further, emit=emit, cancel=cancel):
        on_done(task, result)


class _Recorder:
    """Writes each finished candidate into the state, its weights beside it, and saves both."""

    def __init__(self, folder: Path, state: dict, emit: Emit) -> None:
        self.folder, self.state, self.emit = folder, state, emit
        self.clock, self.base_elapsed = time.monotonic(), state["elapsed"]

    def checkpoint(self) -> None:
        self.state["elapsed"] = self.base_elapsed + time.monotonic() - self.clock
        save_state(self.folder, self.state)
        _write_best(self.folder, self.state)

    def on_start(self, task: CandidateTask) -> None:
        self.emit(CandidateStarted(task.iteration, task.candidate_id, task.parent_id, task.transformation,
                                   task.genotype, task.params, task.flops))

    def on_done(self, task: CandidateTask, result: CandidateResult, halted: bool = False, partial: bool = False) -> None:
        """Record a finished candidate (``partial``: a halving rung it continues from: inheritance facts only)."""
        rec = self.state["candidates"][task.candidate_id]
        if result.preserved is not None:
            rec.update(preserved=result.preserved, inherited=result.inherited)
        if partial:
            return
        rec.update(val_accuracy=result.accuracy, loss=result.loss, epochs=result.epochs, seconds=result.seconds,
                   discarded=result.discarded, halted=halted)
        if result.weights is not None and not (result.discarded or halted):
            write_weights(self.folder, task.candidate_id, result.weights)
        self.state["pending"].remove(task.candidate_id)
        self.state["finished"].append(task.candidate_id)
        self.emit(CandidateFinished(task.iteration, task.candidate_id, task.parent_id, task.transformation,
                                    task.genotype, task.params, task.flops, result.accuracy, result.loss,
                                    result.epochs, result.seconds, result.discarded, halted,
                                    float(rec.get("inherited") or 0.0)))
        self.checkpoint()


def _next_tasks(state: dict, cfg: SearchConfig, shape, token: BudgetToken, left) -> Optional[str]:
    """Draw the next iteration when none is pending; a stop reason when the search should end instead."""
    if state["pending"]:
        return None
    if cfg.max_iterations and state["iteration"] >= cfg.max_iterations:
        return "iteration budget"
    if left is not None and token.cancelled:
        return "time budget"
    _generate(state, cfg, shape)
    if not state["pending"]:
        state["iteration"] -= 1
        return "no new valid children"
    return None


def run_bbnas(
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
    ``state.json`` for a resumed one. ``executor`` defaults to the one
    ``cfg.executor`` names. Raises :class:`Cancelled` when ``cancel`` fires;
    the folder can then be resumed.
    """
    folder = Path(folder)
    left = None if cfg.budget_seconds <= 0 else cfg.budget_seconds - state["elapsed"]
    token = BudgetToken(cancel, left)
    own_executor = executor is None
    if executor is None:
        executor = make_executor(data, cfg.workers, name=cfg.executor, ray=cfg.ray)
    rec = _Recorder(folder, state, emit)
    try:
        while state["stop_reason"] is None:
            generated = not state["pending"]
            state["stop_reason"] = _next_tasks(state, cfg, data.input_shape, token, left)
            if state["stop_reason"]:
                break
            if generated:
                rec.checkpoint()
            tasks = [_task(cfg, folder, state, state["candidates"][c], executor, len(data.y_val))
                     for c in state["pending"]]
            try:
                _evaluate(tasks, executor, cfg, on_start=rec.on_start, on_done=rec.on_done, emit=emit, cancel=token)
            except Cancelled:
                if token.reason != "time budget":
                    raise
                state["stop_reason"] = "time budget"
                _adopt_interrupted_best(state, len(data.y_val), cfg.select_margin)
                break
            state["stop_reason"] = _close_iteration(state, emit, cfg.stop_patience, len(data.y_val), cfg.select_margin)
            _prune_weights(folder, state)
            rec.checkpoint()
    finally:
        token.close()
        if own_executor:
            executor.close()
    if state["result_id"] is None:
        state["stop_reason"] = (state["stop_reason"] or "") + " before the initial model finished"
    state["phase"] = "final"
    rec.checkpoint()
    return state
