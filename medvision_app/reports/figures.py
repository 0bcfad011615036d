"""Figures of an evaluation, drawn with matplotlib onto a given Axes.

The same drawing functions serve the PDF reports (through :func:`png`,
on the Agg canvas, no display needed) and the dashboard (on a Qt canvas).
pyplot is never imported: it would pick a GUI backend and keep global state.
"""

from __future__ import annotations

import io
from typing import Callable, Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from medvision_app.evaluation.calibration import Reliability
from medvision_app.evaluation.curves import CurveBand

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _interval(low: Optional[float], high: Optional[float]) -> str:
    return f" ({low:.3f}-{high:.3f})" if low is not None and high is not None else ""


def draw_confusion(ax, cm: np.ndarray, classes: Sequence[str], *, normalised: bool = False, title: str = "") -> None:
    """Counts, or row-normalised fractions, with the value written in each cell (rows true, columns predicted)."""
    cm = np.asarray(cm, np.float64)
    shown = cm
    if normalised:
        totals = cm.sum(1, keepdims=True)
        shown = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalised else max(1.0, shown.max()))
    k = len(classes)
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalised else f"{int(cm[i, j])}"
            dark = shown[i, j] > (0.5 if normalised else 0.5 * max(1.0, shown.max()))
            ax.text(j, i, text, ha="center", va="center", fontsize=8 if k > 5 else 10,
                    color="white" if dark else "black")
    labels = [c if len(c) <= 14 else c[:13] + "…" for c in classes]
    ax.set_xticks(range(k), labels, rotation=30 if k > 2 else 0, ha="right" if k > 2 else "center", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or ("row-normalised" if normalised else "counts"), fontsize=10)


def draw_curves(ax, bands: Sequence[CurveBand], *, kind: str = "roc", names: Optional[Sequence[str]] = None,
                band: bool = True) -> None:
    """ROC (FPR vs TPR) or PR (recall vs precision) curves with their bootstrap bands."""
    for i, c in enumerate(bands):
        colour = COLOURS[i % len(COLOURS)]
        label = (names[i] if names else c.label) + f": {'AUC' if kind == 'roc' else 'AP'} {c.area:.3f}"
        label += _interval(c.area_low, c.area_high)
        if band:
            ax.fill_between(c.x, c.low, c.high, color=colour, alpha=0.18, linewidth=0)
        ax.plot(c.raw_x, c.raw_y, color=colour, linewidth=1.4, label=label)
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="#888888", linestyle="--", linewidth=0.8)
        ax.set_xlabel("1 - specificity (false positive rate)")
        ax.set_ylabel("sensitivity (true positive rate)")
        ax.set_title("ROC with 95 % bootstrap band", fontsize=10)
    else:
        if bands:
            ax.axhline(bands[0].prevalence, color="#888888", linestyle="--", linewidth=0.8)
        ax.set_xlabel("recall (sensitivity)")
        ax.set_ylabel("precision (PPV)")
        ax.set_title("Precision-recall with 95 % bootstrap band", fontsize=10)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower right" if kind == "roc" else "lower left")
    ax.grid(alpha=0.3)


def draw_reliability(ax, rel: Reliability) -> None:
    """Observed frequency against mean confidence per bin, bar widths the bins, counts annotated."""
    centres = (rel.edges[:-1] + rel.edges[1:]) / 2
    filled = rel.count > 0
    ax.bar(centres[filled], rel.observed[filled], width=np.diff(rel.edges)[filled] * 0.9, color="#1f77b4",
           alpha=0.7, label="observed")
    ax.plot(rel.confidence[filled], rel.observed[filled], "o-", color="#d62728", markersize=3, linewidth=1,
            label="mean confidence")
    ax.plot([0, 1], [0, 1], color="#888888", linestyle="--", linewidth=0.8, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"predicted probability ({rel.kind})")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"Reliability: ECE {rel.ece:.3f}, MCE {rel.mce:.3f}", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)


def draw_history(ax, history: Sequence[dict]) -> None:
    """Training and validation loss (left axis) and validation accuracy / AUC (right axis) per epoch."""
    if not history:
        ax.text(0.5, 0.5, "no training curves (metrics.jsonl absent)", ha="center", va="center")
        ax.set_axis_off()
        return
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]

    def series(key):
        return [h.get(key) if isinstance(h.get(key), (int, float)) else np.nan for h in history]

    for key, colour in (("train_loss", "#1f77b4"), ("val_loss", "#ff7f0e"), ("loss", "#1f77b4")):
        values = series(key)
        if not all(np.isnan(values)):
            ax.plot(epochs, values, color=colour, marker=".", label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("loss")
    right = ax.twinx()
    for key, colour in (("val_accuracy", "#2ca02c"), ("val_auc", "#d62728"), ("val_balanced_accuracy", "#9467bd")):
        values = series(key)
        if not all(np.isnan(values)):
            right.plot(epochs, values, color=colour, linestyle="--", marker=".", label=key.replace("_", " "))
    right.set_ylim(0, 1)
    right.set_ylabel("validation metric")
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="center right")
    ax.set_title("Training curves", fontsize=10)
    ax.grid(alpha=0.3)


def draw_pareto(ax, records: Sequence[dict], front: Sequence[dict]) -> None:
    """Validation accuracy against parameters for every candidate; the Pareto front joined."""
    done = [r for r in records if r.get("val_accuracy") is not None and r.get("params")]
    ax.scatter([r["params"] for r in done], [r["val_accuracy"] for r in done], s=12, color="#999999",
               label="candidates")
    if front:
        ax.plot([r["params"] for r in front], [r["val_accuracy"] for r in front], "o-", color="#d62728",
                markersize=4, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Accuracy vs size", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def draw_search_tree(ax, records: Sequence[dict]) -> None:
    """Each candidate at (iteration, validation accuracy), joined to its parent."""
    pos = {}
    for r in records:
        if r.get("val_accuracy") is not None and r.get("id") is not None:
            pos[r["id"]] = (r.get("iteration", 0), r["val_accuracy"])
    for r in records:
        parent = r.get("parent_id")
        if parent in pos and r.get("id") in pos:
            (x0, y0), (x1, y1) = pos[parent], pos[r["id"]]
            ax.plot([x0, x1], [y0, y1], color="#bbbbbb", linewidth=0.7, zorder=1)
    if pos:
        xs, ys = zip(*pos.values(), strict=True)
        ax.scatter(xs, ys, s=14, color="#1f77b4", zorder=2)
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation accuracy")
    ax.set_title("Search tree", fontsize=10)
    ax.grid(alpha=0.3)


def png(draw: Callable, *, size=(4.0, 3.2), dpi: int = 110, axes: int = 1) -> bytes:
    """Draw on a fresh Agg figure (``draw(ax)`` or ``draw(axes_list)``) and return PNG bytes."""
    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    if axes == 1:
        draw(fig.add_subplot(1, 1, 1))
    else:
        draw([fig.add_subplot(1, axes, i + 1) for i in range(axes)])
    fig.tight_layout()
    buffer = io.BytesIO()
    # no metadata: the PNG is embedded in reports that may leave the workstation
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
