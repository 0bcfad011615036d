"""Logit adjustment: move a class-weighted model's decisions part-way back to the training priors.

A model trained with a class-weighted loss estimates the posterior under
balanced priors; its arg-max maximises balanced accuracy but calls the rare
classes so often that their precision, and with it the macro-F1, suffers.
Adding ``tau * log(prior)`` to the logits (Menon et al., "Long-tail learning
via logit adjustment", ICLR 2021) interpolates between the balanced rule
(``tau = 0``) and the prior-weighted one (``tau = 1``). ``tau`` is one number,
so a validation split with a dozen images of its rarest class can fit it
where one offset per class would fit that split's noise.
"""

from __future__ import annotations

import numpy as np

from medvision_app.evaluation.metrics import balanced_accuracy, macro_f1

# Candidate taus: steps of 0.05, fine enough that neighbours differ by a few decisions.
TAU_GRID = np.round(np.arange(0.0, 1.0001, 0.05), 2)


def prior_offsets(class_counts, tau: float) -> np.ndarray:
    """``tau * log(share)`` per class; a class absent from training counts as one image."""
    counts = np.maximum(np.asarray(class_counts, np.float64), 1.0)
    return tau * np.log(counts / counts.sum())


def fit_tau(logits: np.ndarray, y: np.ndarray, class_counts, grid=TAU_GRID) -> tuple[float, dict]:
    """The tau of ``grid`` with the best mean of balanced accuracy and macro-F1 on ``(logits, y)``.

    Of equal scores the smallest tau wins (the least departure from the
    trained rule). Returns ``tau`` and the figures before and after.
    """
    logits = np.asarray(logits, np.float64)
    y = np.asarray(y, np.int64)
    n = logits.shape[1]

    def figures(tau: float) -> tuple[float, float]:
        pred = np.argmax(logits + prior_offsets(class_counts, tau), axis=1)
        return balanced_accuracy(y, pred, n), macro_f1(y, pred, n)

    scored = [(float(t), *figures(float(t))) for t in grid]
    tau, bal, f1 = max(scored, key=lambda s: (round((s[1] + s[2]) / 2, 12), -s[0]))
    bal0, f10 = figures(0.0)
    return tau, {"val_balanced_accuracy_before": bal0, "val_macro_f1_before": f10,
                 "val_balanced_accuracy_after": bal, "val_macro_f1_after": f1}
