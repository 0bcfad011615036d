"""Temperature scaling (Guo et al. 2017): one scalar T, fitted on the validation split, divides the logits.

``softmax(z / T)`` keeps the ranking of the classes of each sample (the
arg-max and a two-class AUC do not move) and makes the probabilities mean
what they say when T minimises the validation negative log-likelihood.
Pure numpy: the fit is a one-dimensional minimisation over log T.
"""

from __future__ import annotations

import numpy as np

T_RANGE = (0.05, 20.0)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``, float64 ``(N, C)``."""
    z = np.asarray(logits, np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def as_logits(logits: np.ndarray) -> np.ndarray:
    """``(N, C)`` logits; one BCE logit per sample becomes ``[0, z]`` (the same two-class softmax)."""
    z = np.asarray(logits, np.float64)
    if z.ndim != 2:
        raise ValueError(f"logits must be (N, C), got shape {z.shape}")
    if z.shape[1] == 1:
        z = np.concatenate([np.zeros_like(z), z], axis=1)
    return z


def nll(logits: np.ndarray, y_true: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true classes at ``temperature``."""
    z = as_logits(logits) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    y = np.asarray(y_true, np.int64)
    return float(-log_p[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """The T in :data:`T_RANGE` minimising the NLL of ``y_true`` (golden-section search on log T).

    The NLL is convex in 1 / T, so the search finds its one minimum; a T at
    the edge of the range means the logits carry almost no (or nearly
    perfect) information and the edge is returned.
    """
    z = as_logits(logits)
    y = np.asarray(y_true, np.int64)
    if len(y) == 0:
        raise ValueError("cannot fit a temperature on no samples")
    lo, hi = np.log(T_RANGE[0]), np.log(T_RANGE[1])
    ratio = (np.sqrt(5) - 1) / 2
    a, b = lo + (1 - ratio) * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(z, y, np.exp(a)), nll(z, y, np.exp(b))
    for _ in range(80):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = lo + (1 - ratio) * (hi - lo)
            fa = nll(z, y, np.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(z, y, np.exp(b))
    return float(np.exp((lo + hi) / 2))


def scale_probabilities(probs: np.ndarray, temperature: float, offsets=None) -> np.ndarray:
    """``softmax((log p + offsets) / T)``: the probabilities the logits ``z + offsets`` would give at ``T``.

    Exact, since ``log softmax(z) = z - const`` and the constant cancels;
    probabilities that underflowed to 0 are taken as 1e-38 (a logit gap of 87).
    """
    if temperature == 1.0 and offsets is None:
        return np.asarray(probs)
    p = np.asarray(probs, np.float64)
    logits = np.log(np.clip(p, 1e-38, None))
    if offsets is not None:
        logits = logits + np.asarray(offsets, np.float64)
    return softmax(logits, temperature)
