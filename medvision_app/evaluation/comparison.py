"""Comparing runs evaluated on the same test samples: the AUC each reports, side-by-side metrics
and the paired test of every run against the first."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from medvision_app.evaluation.compare import align, auc_scores, delong_test, paired_bootstrap
from medvision_app.evaluation.curves import roc_curve
from medvision_app.evaluation.run_folder import RunResults


def compare_runs(runs: Sequence[RunResults], *, n_resamples: int = 1000, seed: int = 0) -> dict:
    """``{"rows": [...], "tests": [...], "curves": [...]}`` for two or more runs.

    Each later run is paired with the first on the samples both predicted
    (matched by id); runs with other classes cannot be compared.
    """
    if len(runs) < 2:
        raise ValueError("comparing needs two or more runs")
    base = runs[0]
    rows, tests, curves = [], [], []
    for run in runs:
        if run.classes != base.classes:
            raise ValueError(f"{run.run_dir}: classes {run.classes} differ from {base.run_dir}'s {base.classes}")
        pos, score = auc_scores(run.y_true, run.probs, 0)
        fpr, tpr, _ = roc_curve(pos, score)
        pred = run.probs.argmax(1)
        ev = run.eval or {}
        rows.append({"run": run.name, "n": len(run.y_true), "accuracy": float((pred == run.y_true).mean()),
                     "balanced_accuracy": ev.get("balanced_accuracy"), "auc": ev.get("auc"),
                     "macro_f1": ev.get("macro_f1"), "ci": ev.get("ci", {})})
        curves.append({"run": run.name, "fpr": fpr, "tpr": tpr})
    for run in runs[1:]:
        ia, ib = align(base.ids, run.ids)
        y = base.y_true[ia]
        if not np.array_equal(y, run.y_true[ib]):
            raise ValueError(f"{run.run_dir}: the shared samples carry other labels than in {base.run_dir}")
        c = 0 if base.n_classes == 2 else None
        pos, a = auc_scores(y, base.probs[ia], c if c is not None else 0)
        _, b = auc_scores(y, run.probs[ib], c if c is not None else 0)
        tests.append({"a": base.name, "b": run.name, "n": len(ia),
                      "delong": delong_test(pos, a, b).as_dict(),
                      "bootstrap": paired_bootstrap(pos, a, b, n_resamples=n_resamples, seed=seed).as_dict()})
    return {"rows": rows, "tests": tests, "curves": curves, "class": base.classes[0]}
