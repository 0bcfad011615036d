"""What a run does after its last epoch: batch-norm re-estimation, test-time augmentation, calibration.

Order: the best weights (``best.pt``) get their batch-norm statistics
recomputed when ``train.bn_reestimate`` asks (written back into ``best.pt``,
marked, so a resume or a re-evaluation does not repeat it and the export
takes the same weights); the logits of the validation and test splits are
averaged over the flips of ``eval.tta``; ``tau * log(training prior)`` is
added to them (``eval.prior_adjustment``, tau fitted on validation); a
temperature is fitted on the validation logits (``eval.temperature_scaling``); a two-class model's
operating threshold is chosen on the calibrated validation probabilities
(``eval.threshold``). The test split is then scored on the calibrated
probabilities, which are what ``predict`` computes from the exported file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from medvision_app.evaluation.calibration import reliability
from medvision_app.evaluation.prior_adjustment import fit_tau, prior_offsets
from medvision_app.evaluation.settings import tta_flips
from medvision_app.evaluation.temperature import as_logits, fit_temperature, nll, softmax
from medvision_app.evaluation.threshold_choice import choose_threshold, operating_report
from medvision_app.training.bn_stats import reestimate_batch_norm
from medvision_app.training.checkpoints import BEST, WEIGHTS_ORDER, first_usable, save_checkpoint
from medvision_app.utils.atomic import atomic_write_text

BN_MARK = "bn_reestimated"
OPERATING_POINT = "operating_point.json"  # the file medvision_app.evaluation.threshold_store reads


@torch.no_grad()
def predict_logits(model: torch.nn.Module, dataset: Any, device: torch.device, *, tta: str = "none",
                   batch_size: int = 128) -> np.ndarray:
    """Logits ``(N, C)`` float64 of a dataset in evaluation mode, averaged over the ``tta`` views.

    A single BCE logit becomes ``[0, z]`` (the same two-class probabilities).
    """
    model.eval().to(device)
    views = tta_flips(tta)
    out = []
    for index in torch.arange(len(dataset)).split(batch_size):
        x, _, meta = dataset.batch(index, 0)
        x = x.to(device)
        meta = None if meta is None else meta.to(device)
        total = None
        for dims in views:
            xi = torch.flip(x, dims) if dims else x
            logits = (model(xi) if meta is None else model(xi, meta)).float()
            total = logits if total is None else total + logits
        out.append((total / len(views)).cpu().numpy())
    return as_logits(np.concatenate(out)) if out else np.zeros((0, 2))


def reestimate_best(model: torch.nn.Module, train_data: Any, checkpoints: Path, device: torch.device,
                    batch_size: int) -> Optional[Path]:
    """Recompute the batch-norm statistics of the best weights on ``train_data`` and write them back.

    Returns the checkpoint written, or None when there was nothing to do
    (no checkpoint, already done, no batch-norm layer).
    """
    from medvision_app.training.checkpoints import CheckpointError

    try:
        found = first_usable(checkpoints, WEIGHTS_ORDER)
    except CheckpointError:
        return None
    if found is None or found[1].get(BN_MARK):
        return None
    state = dict(found[1])
    model.load_state_dict(state["model"])
    if reestimate_batch_norm(model, train_data, device, batch_size=batch_size) == 0:
        return None
    state["model"] = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    state[BN_MARK] = True
    return save_checkpoint(state, checkpoints, BEST)


def calibrate(config, class_names: list[str], val: tuple[np.ndarray, np.ndarray] | None,
              test: tuple[np.ndarray, np.ndarray], class_counts=None) -> tuple[np.ndarray, dict]:
    """The test probabilities to score, and the ``calibration`` / ``operating_threshold`` /
    ``prior_adjustment`` entries of eval.json.

    ``val`` and ``test`` are ``(logits, labels)``; without validation data
    nothing is fitted (the entries say so). ``class_counts``: the training
    split's images per class, which ``eval.prior_adjustment`` needs. The
    adjustment comes first, so the temperature calibrates the adjusted
    logits, the ones predict's decisions come from.
    """
    settings = config.eval
    test_logits, test_y = test
    extra: dict = {"tta": settings.tta}
    if settings.prior_adjustment != "none":
        val, test_logits, extra["prior_adjustment"] = _adjust_priors(settings, val, test_logits, class_counts)
    temperature = 1.0
    if settings.temperature_scaling:
        if val is None or len(val[1]) == 0:
            extra["calibration"] = {"temperature": 1.0, "note": "no validation split: nothing fitted"}
        else:
            temperature = fit_temperature(*val)
            extra["calibration"] = {
                "temperature": temperature, "fitted_on": "val", "val_samples": int(len(val[1])),
                "val_nll_before": nll(val[0], val[1]), "val_nll_after": nll(val[0], val[1], temperature),
                "val_ece_before": reliability(val[1], softmax(val[0])).ece,
                "val_ece_after": reliability(val[1], softmax(val[0], temperature)).ece,
                "ece_before": reliability(test_y, softmax(test_logits)).ece,
                "ece_after": reliability(test_y, softmax(test_logits, temperature)).ece,
            }
    probs = softmax(test_logits, temperature)
    method = settings.threshold.method
    if method != "none" and len(class_names) == 2:
        positive = _positive_index(settings.threshold.positive, class_names)
        if val is None or len(val[1]) == 0:
            # after an hour's training, a missing validation split leaves the arg-max rather than no report
            if method != "fixed":
                extra["operating_threshold_note"] = f"method {method!r} needs a validation split: none chosen"
            val_probs, val_y = probs[:0], test_y[:0]
        else:
            val_probs, val_y = softmax(val[0], temperature), val[1]
        chosen = choose_threshold(val_y, val_probs, method, positive=positive,
                                  target_sensitivity=settings.threshold.target_sensitivity,
                                  value=settings.threshold.value) if len(val_y) or method == "fixed" else None
        if chosen is not None:
            chosen["class"] = class_names[0]
            chosen["positive_class"] = class_names[positive]
            chosen["test"] = operating_report(test_y, probs, chosen["threshold"], positive=positive,
                                              seed=config.train.seed)
            extra["operating_threshold"] = chosen
    return probs.astype(np.float32), extra


def needs_validation(settings) -> bool:
    """Whether the ``eval`` settings fit anything on the validation split."""
    return (settings.temperature_scaling or settings.threshold.method != "none"
            or settings.prior_adjustment == "fit")


def validation_fit(model: torch.nn.Module, val: Any, settings, device: torch.device,
                   batch_size: int = 128) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """The validation ``(logits, labels)`` that :func:`calibrate` fits on, with the ``eval`` section's
    flips; None when the settings fit nothing or there is no validation data."""
    if not needs_validation(settings) or val is None or not len(val):
        return None
    return predict_logits(model, val, device, tta=settings.tta, batch_size=batch_size), np.asarray(val.labels)


def _adjust_priors(settings, val, test_logits: np.ndarray, class_counts):
    """Validation and test logits plus ``tau * log(prior)``, and the record of what was added."""
    if class_counts is None or len(class_counts) != test_logits.shape[1]:
        raise ValueError("eval.prior_adjustment needs the training split's class counts")
    record: dict = {"method": settings.prior_adjustment, "class_counts": [int(c) for c in class_counts]}
    tau = float(settings.prior_tau)
    if settings.prior_adjustment == "fit":
        if val is None or len(val[1]) == 0:
            tau = 0.0
            record["note"] = "no validation split: nothing fitted"
        else:
            tau, figures = fit_tau(val[0], val[1], class_counts)
            record.update(fitted_on="val", **figures)
    offsets = prior_offsets(class_counts, tau)
    record.update(tau=tau, offsets=[float(o) for o in offsets])
    if val is not None:
        val = (np.asarray(val[0], np.float64) + offsets, val[1])
    return val, np.asarray(test_logits, np.float64) + offsets, record


def check_eval_settings(config, class_names: list[str]) -> None:
    """Refuse, before training, an ``eval`` section the data cannot honour (ValueError naming the key)."""
    threshold = config.eval.threshold
    if threshold.method != "none" and len(class_names) != 2:
        raise ValueError(f"eval.threshold.method {threshold.method!r} needs two classes, the data have "
                         f"{len(class_names)}; use 'none'")
    if threshold.method != "none":
        _positive_index(threshold.positive, class_names)


def _positive_index(name: str, class_names: list[str]) -> int:
    if not name:
        return 0
    if name not in class_names:
        raise ValueError(f"eval.threshold.positive {name!r} is not one of the classes {class_names}")
    return class_names.index(name)


def write_operating_point(run_dir: Path, extra: dict, class_names: list[str]) -> None:
    """The chosen threshold where the dashboard and the export read it (threshold_store's record)."""
    chosen = extra.get("operating_threshold")
    if not chosen:
        return
    record = {"threshold": chosen["threshold"], "class": class_names[0],
              "rule": "report the first class when its probability is at or above the threshold",
              "method": chosen["method"], "chosen_on": "val"}
    atomic_write_text(Path(run_dir) / OPERATING_POINT, json.dumps(record, indent=2) + "\n")
