"""The search's summary: the search tree, the accuracy-versus-parameters Pareto front, the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

from medvision_app.utils.atomic import atomic_write_text


def pareto_front(records: Sequence[dict]) -> list[dict]:
    """Candidates no other beats on both counts (higher validation accuracy, fewer parameters).

    Returned in increasing parameter count.
    """
    done = [r for r in records if r.get("val_accuracy") is not None]
    front, best_acc = [], -1.0
    for r in sorted(done, key=lambda r: (r["params"], -r["val_accuracy"])):
        if r["val_accuracy"] > best_acc:
            front.append(r)
            best_acc = r["val_accuracy"]
    return front


def search_tree(records: Sequence[dict]) -> dict[int, list[dict]]:
    """Iteration -> its candidates (``id``, ``parent_id``, ``transformation``, accuracy, params)."""
    tree: dict[int, list[dict]] = {}
    for r in records:
        tree.setdefault(int(r["iteration"]), []).append(
            {k: r.get(k) for k in ("id", "parent_id", "transformation", "val_accuracy", "params")}
        )
    return tree


def reward_curve(state: dict) -> Optional[list[dict]]:
    """ENAS: per shared epoch, the controller's mean reward, its baseline and its sampling entropy."""
    epochs = state.get("epochs")
    if not isinstance(epochs, list):
        return None
    return [{k: e.get(k) for k in ("epoch", "mean_reward", "baseline", "entropy", "shared_accuracy")} for e in epochs]


def inheritance_figures(records: Sequence[dict]) -> Optional[dict]:
    """BbNAS: how many children inherited, kept their parent's function, were discarded or halted."""
    children = [r for r in records if r.get("parent_id")]
    if not any("inherited" in r for r in children):
        return None
    return {
        "children": len(children),
        "inherited": sum(1 for r in children if (r.get("inherited") or 0) > 0),
        "function_preserved": sum(1 for r in children if r.get("preserved")),
        "discarded": sum(1 for r in children if r.get("discarded")),
        "halted": sum(1 for r in children if r.get("halted")),
        "child_epochs": sum(int(r.get("epochs") or 0) for r in children),
    }


def build_summary(state: dict, final: Optional[dict]) -> dict:
    records = [state["candidates"][c] for c in state.get("finished", [])]
    rid = state.get("result_id")
    return {
        "method": state["method"],
        "stop_reason": state.get("stop_reason"),
        "search_seconds": state.get("elapsed"),
        "candidates": len(records),
        "iterations": state.get("iterations", []),
        "result": state["candidates"].get(rid) if rid else state.get("result"),
        "final": final,
        "enas_epochs": state.get("epochs") if isinstance(state.get("epochs"), list) else None,
        "controller_reward_curve": reward_curve(state),
        "inheritance": inheritance_figures(records),
        "tree": search_tree(records),
        "pareto_front": [{k: r[k] for k in ("id", "genotype", "params", "val_accuracy")} for r in pareto_front(records)],
    }


def render_markdown(summary: dict) -> str:
    lines = [f"# {summary['method']} search", ""]
    lines.append(f"Stopped: {summary['stop_reason']} after {summary['candidates']} candidates "
                 f"in {summary['search_seconds'] or 0:.0f} s.")
    result = summary.get("result") or {}
    if result:
        lines += ["", f"Returned model: `{result.get('genotype')}` ({result.get('params', 0):,} parameters, "
                  f"validation accuracy {result.get('val_accuracy', 0):.4f})."]
    final = summary.get("final") or {}
    if final:
        auc = final.get("auc")
        lines.append(f"Retrained: test accuracy {final['accuracy']:.4f}"
                     + (f", AUC {auc:.4f}" if isinstance(auc, float) else "") + f", run folder `{final.get('run_dir')}`.")
    curve = summary.get("controller_reward_curve")
    if curve:
        lines += ["", "## Controller reward curve", "", "| epoch | mean reward | baseline | entropy |", "|---|---|---|---|"]
        lines += [f"| {c['epoch']} | {c['mean_reward'] or 0:.4f} | {c['baseline'] or 0:.4f} | {c['entropy'] or 0:.2f} |"
                  for c in curve]
    if summary["tree"]:
        lines += ["", "## Search tree (iteration x model)", "", "| model | parent | transformation | val acc | params |",
                  "|---|---|---|---|---|"]
        for it in sorted(summary["tree"], key=int):
            for n in summary["tree"][it]:
                acc = n["val_accuracy"]
                lines.append(f"| {n['id']} | {n['parent_id'] or '-'} | {n['transformation']} | "
                             f"{acc:.4f} | {n['params']:,} |" if acc is not None else f"| {n['id']} | | | | |")
    if summary["pareto_front"]:
        lines += ["", "## Pareto front (accuracy vs parameters)", "", "| model | params | val acc | genotype |",
                  "|---|---|---|---|"]
        for r in summary["pareto_front"]:
            lines.append(f"| {r['id']} | {r['params']:,} | {r['val_accuracy']:.4f} | `{r['genotype']}` |")
    return "\n".join(lines) + "\n"


def write_summary(folder: Path, summary: dict) -> None:
    atomic_write_text(Path(folder) / "summary.json", json.dumps(summary, indent=2) + "\n")
    atomic_write_text(Path(folder) / "summary.md", render_markdown(summary))
