"""Classification metrics, bootstrap confidence intervals and the run folder's reports.

The names load on first use: ``medvision gui`` imports ``evaluation.run_folder``
at start-up, and the package's own imports (scipy.stats, about a second here)
used to come with it before the first image.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "bootstrap_ci": "medvision_app.evaluation.bootstrap",
    "auc_score": "medvision_app.evaluation.metrics",
    "classification_report": "medvision_app.evaluation.metrics",
    "roc_points": "medvision_app.evaluation.metrics",
    "summary_metrics": "medvision_app.evaluation.metrics",
    "evaluate": "medvision_app.evaluation.report",
    "write_eval": "medvision_app.evaluation.report",
    "write_predictions": "medvision_app.evaluation.report",
}

__all__ = [
    "auc_score",
    "bootstrap_ci",
    "classification_report",
    "evaluate",
    "roc_points",
    "summary_metrics",
    "write_eval",
    "write_predictions",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
