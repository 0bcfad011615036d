"""The ENAS search: alternate one epoch of shared weights with controller steps, then derive.

Shared weights: SGD with Nesterov momentum, learning rate cosine from
``child_lr_max`` to ``child_lr_min`` over the epochs, weight decay, gradient
clipping at 5, one sampled architecture per minibatch. Controller: Adam,
REINFORCE on the accuracy of a sampled architecture on one validation
minibatch. After the last epoch, ``derive_samples`` architectures are
sampled and the one most accurate on the whole validation split wins.

``enas.pt`` (supernet, controller, both optimisers, RNG states) and
``state.json`` are written atomically after every epoch, so a killed search
resumes at the epoch in flight.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from medvision_app.events import Cancelled, CancelToken, Emit, ignore
from medvision_app.networks.enas_space import SHAPES, Arc, CellNetwork, supernet_layout
from medvision_app.search.config import SearchConfig
from medvision_app.search.data import SearchData
from medvision_app.search.enas_controller import Controller, Reinforce
from medvision_app.search.events import CandidateFinished, EnasEpochFinished
from medvision_app.search.search_state import SearchState
from medvision_app.search.state import BudgetToken, save_state
from medvision_app.training.engine import cpu_threads, flush_denormals, resolve_device
from medvision_app.utils.atomic import atomic_path

WEIGHTS = "enas.pt"


def new_enas_state(cfg: SearchConfig, n_classes: int) -> SearchState:
    return SearchState(method="enas", n_classes=n_classes, epochs=[])


def _accuracy(model: nn.Module, arc: Arc, x: np.ndarray, y: np.ndarray, device, batch: int = 256,
              balanced: bool = False) -> float:
    """Accuracy of ``arc`` on ``x``; ``balanced``: the mean of the per-class recalls of the classes present."""
    model.eval()
    predicted = []
    with torch.no_grad():
        for s in range(0, len(x), batch):
            logits = model(torch.from_numpy(x[s:s + batch]).to(device), arc)
            predicted.append(logits.argmax(1).cpu().numpy())
    hits = np.concatenate(predicted) == y if predicted else np.zeros(0, bool)
    if not balanced:
        return float(hits.mean()) if len(hits) else 0.0
    return float(np.mean([hits[y == c].mean() for c in np.unique(y)])) if len(hits) else 0.0


def _class_weights(y: np.ndarray, n_classes: int) -> torch.Tensor:
    """N / (C * N_c), as the training engine's weighted_ce; a class absent from training weighs 0."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def _count(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def run_enas(cfg: SearchConfig, folder: Path, data: SearchData, state: dict, *, emit: Emit = ignore,
             cancel: Optional[CancelToken] = None) -> dict:
    """Run or continue the ENAS search in ``folder``; returns the state with ``result`` (the best arc)."""
    with flush_denormals():  # the shared weights train in this loop, not in the engine
        return _run_enas(cfg, folder, data, state, emit=emit, cancel=cancel)


def _run_enas(cfg: SearchConfig, folder: Path, data: SearchData, state: dict, *, emit: Emit,
              cancel: Optional[CancelToken]) -> dict:
    e = cfg.enas
    folder = Path(folder)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    supernet = CellNetwork(supernet_layout(e.layers_per_stage), data.input_shape[0], data.n_classes, e.channels, e.nodes).to(device)
    controller = Controller(e.nodes, e.lstm_size, e.tanh_constant, e.op_tanh_reduce)
    w_opt = torch.optim.SGD(supernet.parameters(), lr=e.child_lr_max, momentum=e.child_momentum, nesterov=True,
                            weight_decay=e.child_weight_decay)
    c_opt = torch.optim.Adam(controller.parameters(), lr=e.controller_lr)
    reinforce = Reinforce(e.entropy_weight, e.baseline_decay, state["baseline"])
    weights = folder / WEIGHTS
    if weights.is_file():
        saved = torch.load(weights, map_location=device, weights_only=True)
        supernet.load_state_dict(saved["supernet"])
        controller.load_state_dict(saved["controller"])
        w_opt.load_state_dict(saved["w_opt"])
        c_opt.load_state_dict(saved["c_opt"])
        torch.set_rng_state(saved["torch_rng"])
    left = None if cfg.budget_seconds <= 0 else cfg.budget_seconds - state["elapsed"]
    token = BudgetToken(cancel, left)
    clock, base = time.monotonic(), state["elapsed"]
    # Without class weights the shared weights settled on BreastMNIST's majority
    # class (73 %) within the example's 20 epochs, and every sampled arc then
    # scored the same reward: the controller had nothing to learn from.
    weight = _class_weights(data.y_train, data.n_classes).to(device) if e.balanced_loss else None
    criterion = nn.CrossEntropyLoss(weight=weight)
    epochs = cfg.max_iterations or e.epochs

    def save() -> None:
        state["elapsed"] = base + time.monotonic() - clock
        state["baseline"] = reinforce.baseline
        payload = {"supernet": supernet.state_dict(), "controller": controller.state_dict(), "w_opt": w_opt.state_dict(),
                   "c_opt": c_opt.state_dict(), "torch_rng": torch.get_rng_state()}
        with atomic_path(weights) as tmp:
            torch.save(payload, tmp)
        save_state(folder, state)

    try:
        while state["epoch"] < epochs:
            started = time.perf_counter()
            ep = state["epoch"]
            lr = e.child_lr_min + 0.5 * (e.child_lr_max - e.child_lr_min) * (1 + math.cos(math.pi * ep / epochs))
            for group in w_opt.param_groups:
                group["lr"] = lr
            rng = np.random.default_rng([cfg.seed, ep])
            order = rng.permutation(len(data.x_train))
            supernet.train()
            loss_sum = correct = seen = 0
            for s in range(0, len(order), e.batch_size):
                token.raise_if_cancelled()
                idx = order[s:s + e.batch_size]
                # The controller's hundred 64-wide LSTM steps run faster on one
                # thread than across several (1.7 s vs 0.04 s per sample here).
                with torch.no_grad(), cpu_threads(1):
                    arc, _, _ = controller()
                xb = torch.from_numpy(data.x_train[idx]).to(device)
                yb = torch.from_numpy(data.y_train[idx]).to(device)
                w_opt.zero_grad(set_to_none=True)
                logits = supernet(xb, arc)
                loss = criterion(logits, yb)
                loss.backward()
                nn.utils.clip_grad_norm_(supernet.parameters(), 5.0)
                w_opt.step()
                loss_sum += float(loss.detach()) * len(idx)
                correct += int((logits.argmax(1) == yb).sum())
                seen += len(idx)
            rewards, entropies = [], []
            for _ in range(e.controller_steps):
                token.raise_if_cancelled()
                vidx = rng.choice(len(data.x_val), size=min(e.batch_size, len(data.x_val)), replace=False)
                xv, yv = data.x_val[vidx], data.y_val[vidx]
                arc, reward = reinforce.step(controller, c_opt, lambda a, xv=xv, yv=yv: _accuracy(
                    supernet, a, xv, yv, device, balanced=e.balanced_reward))
                rewards.append(reward)
                entropies.append(reinforce.last_entropy)
            seconds = time.perf_counter() - started
            record = {"epoch": ep + 1, "shared_loss": loss_sum / max(1, seen), "shared_accuracy": correct / max(1, seen),
                      "mean_reward": float(np.mean(rewards)) if rewards else 0.0, "arc": str(arc), "seconds": seconds,
                      "rewards": [float(r) for r in rewards], "baseline": float(reinforce.baseline),
                      "entropy": float(np.mean(entropies)) if entropies else 0.0, "lr": lr}
            state["epochs"].append(record)
            state["epoch"] = ep + 1
            save()
            emit(EnasEpochFinished(ep + 1, record["shared_loss"], record["shared_accuracy"], record["mean_reward"],
                                   str(arc), seconds, record["baseline"], record["entropy"]))
        state["stop_reason"] = "iteration budget" if cfg.max_iterations else "epochs done"
    except Cancelled:
        if token.reason != "time budget":
            raise
        state["stop_reason"] = "time budget"
    finally:
        token.close()
    if not state["candidates"]:
        _derive(cfg, state, supernet, controller, data, device, emit)
    state["phase"] = "final"
    save()
    return state


def _derive(cfg: SearchConfig, state: dict, supernet, controller, data: SearchData, device, emit: Emit) -> None:
    """Sample ``derive_samples`` architectures; the most accurate on the validation split is the result."""
    torch.manual_seed(cfg.seed + 7919)
    best = None
    for k in range(cfg.enas.derive_samples):
        with torch.no_grad(), cpu_threads(1):
            arc, _, _ = controller()
        started = time.perf_counter()
        acc = _accuracy(supernet, arc, data.x_val, data.y_val, device)
        balanced = _accuracy(supernet, arc, data.x_val, data.y_val, device, balanced=True)
        final7 = CellNetwork(SHAPES["enas-7"], data.input_shape[0], data.n_classes, cfg.enas.final_channels, cfg.enas.nodes, arc=arc)
        rec = {"iteration": state["epoch"], "id": f"derive-{k}", "parent_id": None, "transformation": "controller sample",
               "genotype": str(arc), "arc": arc.to_json(), "params": _count(final7), "flops": None,
               "val_accuracy": acc, "val_balanced_accuracy": balanced, "loss": None, "epochs": state["epoch"], "seconds": time.perf_counter() - started}
        state["candidates"][rec["id"]] = rec
        state["finished"].append(rec["id"])
        emit(CandidateFinished(rec["iteration"], rec["id"], None, rec["transformation"], rec["genotype"], rec["params"],
                               0, acc, float("nan"), rec["epochs"], rec["seconds"]))
        score = balanced if cfg.enas.balanced_reward else acc
        if best is None or score > best["score"]:
            best = {**rec, "score": score}
    best = state["candidates"][best["id"]]
    state["result_id"] = best["id"]
    state["iterations"] = [{"iteration": state["epoch"], "best_id": best["id"], "best_accuracy": best["val_accuracy"],
                            "smallest_id": best["id"], "smallest_params": best["params"]}]
