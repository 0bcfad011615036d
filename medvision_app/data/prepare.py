"""From a :class:`DataConfig` to train/val/test datasets in memory, ready to train on."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from medvision_app.data.config import DataConfig
from medvision_app.data.dataset import Augment, InMemoryDataset
from medvision_app.data.errors import DataError
from medvision_app.data.images import to_model_input
from medvision_app.data.metadata import MetadataEncoding, fit_encoding
from medvision_app.data.sources import read_source
from medvision_app.data.splits import grouped_stratified_split
from medvision_app.data.table import SPLITS, SampleTable
from medvision_app.events import CancelToken, Emit, Progress, ignore

log = logging.getLogger(__name__)

Preprocess = Callable[[np.ndarray], np.ndarray]


@dataclass
class PreparedData:
    """The datasets of one run and what is needed to repeat their encoding."""

    class_names: list[str]
    datasets: dict[str, InMemoryDataset]
    metadata_encoding: Optional[MetadataEncoding] = None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    @property
    def metadata_features(self) -> int:
        return self.metadata_encoding.n_features if self.metadata_encoding else 0


def split_table(table: SampleTable, config: DataConfig) -> dict[str, SampleTable]:
    """Split ``table`` by the source's own split or by a grouped stratified split."""
    ratios = config.split.ratios
    if table.splits is not None and config.split.use_predefined:
        splits = np.asarray(table.splits)
        index = {s: np.flatnonzero(splits == s) for s in SPLITS}
        if len(index["val"]) == 0 and ratios[1] > 0:
            train = index["train"]
            share = ratios[1] / (ratios[0] + ratios[1])
            sub = table.subset(train)
            carved = grouped_stratified_split(sub.labels, sub.groups, (1 - share, share, 0.0), config.split.seed)
            index["train"], index["val"] = train[carved["train"]], train[carved["val"]]
    else:
        index = grouped_stratified_split(table.labels, table.groups, ratios, config.split.seed)
    if len(index["train"]) == 0:
        raise DataError(f"{table.source}: the training split is empty")
    if config.limit is not None:
        rng = np.random.default_rng(config.split.seed)
        index = {s: _stratified_head(i, table.labels[i], config.limit, rng) for s, i in index.items()}
    return {s: table.subset(i) for s, i in index.items()}


def _stratified_head(index: np.ndarray, labels: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``limit`` of ``index``, drawn at random with each class keeping its share."""
    if len(index) <= limit:
        return index
    order = rng.permutation(len(index))
    ranks = np.empty(len(index))
    for label in np.unique(labels):
        members = order[labels[order] == label]
        # the k-th pick of a class with n members sits at (k + 0.5) / n along the merged list
        ranks[members] = (np.arange(len(members)) + 0.5) / len(members)
    chosen = np.argsort(ranks, kind="stable")[:limit]
    return np.sort(index[chosen])


def _load_pixels(
    table: SampleTable,
    *,
    size: int,
    channels: int,
    preprocess: Optional[Preprocess],
    on_unreadable: str,
    done: int,
    total: int,
    emit: Emit,
    cancel: Optional[CancelToken],
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    from medvision_app.imaging import ImageOpenError

    out = np.zeros((len(table), channels, size, size), dtype=np.uint8)
    keep = np.ones(len(table), dtype=bool)
    skipped: list[tuple[str, str]] = []
    for i in range(len(table)):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            img = table.display(i)
        except ImageOpenError as exc:
            path = table.paths[i]
            if on_unreadable == "fail":
                raise DataError(f"{path}: cannot open: {exc.reason}") from None
            skipped.append((str(path), exc.reason))
            keep[i] = False
            continue
        if preprocess is not None:
            img = preprocess(img)
        out[i] = to_model_input(img, size, channels)
        if (i + 1) % 256 == 0 or i + 1 == len(table):
            emit(Progress(done + i + 1, total, "loading images"))
    return out, keep, skipped


def prepare_data(
    config: DataConfig,
    path: Path,
    *,
    input_size: int,
    in_channels: int,
    preprocess: Optional[Preprocess] = None,
    augment: Optional[Augment] = None,
    seed: int = 0,
    splits: tuple[str, ...] = SPLITS,
    metadata_encoding: Optional[MetadataEncoding] = None,
    before_pixels: Optional[Callable[[list[str], Optional[MetadataEncoding]], None]] = None,
    emit: Emit = ignore,
    cancel: Optional[CancelToken] = None,
) -> PreparedData:
    """Read, split, preprocess and cache the data of ``config`` (whose path is ``path``).

    Preprocessing runs once per image; ``augment`` is given to the training
    split only. The metadata encoding is fitted on the training split unless
    ``metadata_encoding`` (from a previous run) is passed.
    ``before_pixels(class_names, encoding)`` is called once the split is
    known and before any image is read, so a caller can fail fast (a model
    whose weights are missing) before minutes of loading.
    """
    table = read_source(config, path)
    parts = split_table(table, config)
    encoding = metadata_encoding
    if config.use_metadata and encoding is None:
        if not table.has_metadata:
            raise DataError(f"{table.source}: data.use_metadata is set but the source has no age/sex/site")
        train = parts["train"]
        encoding = fit_encoding(train.age, train.sex, train.site)
    if before_pixels is not None:
        before_pixels(list(table.class_names), encoding)
    total = sum(len(parts[s]) for s in splits)
    done = 0
    datasets: dict[str, InMemoryDataset] = {}
    skipped: list[tuple[str, str]] = []
    for name in splits:
        part = parts[name]
        pixels, keep, bad = _load_pixels(
            part, size=input_size, channels=in_channels, preprocess=preprocess,
            on_unreadable=config.on_unreadable, done=done, total=total, emit=emit, cancel=cancel,
        )
        done += len(part)
        skipped.extend(bad)
        part = part.subset(np.flatnonzero(keep))
        meta = encoding.encode_many(part.age, part.sex, part.site, len(part)) if encoding else None
        datasets[name] = InMemoryDataset(
            pixels[keep], part.labels, meta, ids=part.ids,
            augment=augment if name == "train" else None, seed=seed,
        )
    if skipped:
        log.warning("%d unreadable image(s) skipped", len(skipped))
    return PreparedData(table.class_names, datasets, encoding, skipped)
