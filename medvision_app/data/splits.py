"""Stratified splits that keep every patient or lesion inside one split."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from medvision_app.data.table import SPLITS


def grouped_stratified_split(
    labels: np.ndarray,
    groups: Optional[Sequence[str]],
    ratios: Sequence[float],
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Split sample indices into train/val/test by ``ratios``, stratified by label.

    Parameters
    ----------
    labels : ndarray of int, shape (N,)
    groups : sequence of str or None
        Patient/lesion IDs; all samples of a group land in the same split.
        ``None`` makes every sample its own group.
    ratios : three floats adding up to 1 (a zero gives an empty split)
    seed : int

    Returns
    -------
    dict
        ``{"train": idx, "val": idx, "test": idx}``, sorted int64 index arrays.

    Notes
    -----
    Each group is stratified by its most common label. Within a label the
    groups are shuffled and dealt out so each split's share of samples follows
    the ratios as closely as whole groups allow.
    """
    labels = np.asarray(labels)
    n = len(labels)
    ratios = np.asarray(ratios, dtype=float)
    if ratios.shape != (3,) or (ratios < 0).any() or abs(ratios.sum() - 1) > 1e-6:
        raise ValueError(f"ratios {list(ratios)} must be three non-negative numbers adding up to 1")
    if groups is None:
        group_ids = np.arange(n)
    else:
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries for {n} labels")
        _, group_ids = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    n_groups = int(group_ids.max()) + 1 if n else 0
    members = [[] for _ in range(n_groups)]
    for i, g in enumerate(group_ids):
        members[g].append(i)
    group_label = np.array([np.bincount(labels[m]).argmax() for m in members], dtype=np.int64)
    rng = np.random.default_rng(seed)
    assignment = np.empty(n_groups, dtype=np.int64)
    cum = np.cumsum(ratios)
    for label in np.unique(group_label):
        gs = np.flatnonzero(group_label == label)
        gs = gs[rng.permutation(len(gs))]
        sizes = np.array([len(members[g]) for g in gs], dtype=float)
        total = sizes.sum()
        # The midpoint of each group's span of samples decides its split.
        mid = (np.cumsum(sizes) - sizes / 2) / total
        assignment[gs] = np.minimum(np.searchsorted(cum, mid, side="right"), 2)
    sample_split = assignment[group_ids] if n else np.empty(0, dtype=np.int64)
    return {name: np.flatnonzero(sample_split == k) for k, name in enumerate(SPLITS)}
