"""Classification metrics, bootstrap confidence intervals and the run folder's reports."""

from medvision_app.evaluation.bootstrap import bootstrap_ci
from medvision_app.evaluation.metrics import auc_score, classification_report, roc_points, summary_metrics
from medvision_app.evaluation.report import evaluate, write_eval, write_predictions

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
