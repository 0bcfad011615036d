"""Samples held in memory as uint8 tensors, batched without a DataLoader."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import torch

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]

# Up to this size, un-augmented images are kept once more as normalised
# float32, so small data sets (28 px, a search's candidates) pay nothing per
# batch for the conversion; larger ones convert each batch from uint8.
FLOAT_CACHE_BYTES = 512 * 2**20


class InMemoryDataset(torch.utils.data.Dataset):
    """Images, labels and optional metadata, all in memory.

    Parameters
    ----------
    images : Tensor or ndarray, shape (N, C, H, W)
        uint8 (divided by 255 when batched) or float32 already in [0, 1].
        An ``(N, H, W)`` array gets a channel axis.
    labels : Tensor or ndarray of int, shape (N,)
    metadata : Tensor or ndarray of float32, shape (N, M), optional
    ids : sequence of str, optional (default: the index)
    augment : callable ``(image float32 HxW or HxWxC in [0, 1], rng) -> image``, optional
        Applied per sample in :meth:`batch`. Its random generator is seeded
        from ``(seed, epoch, sample index)`` so an epoch's augmentation is the
        same whatever happened before it, which keeps resume exact.
    mean, std : sequence of float, optional
        Per-channel normalisation applied to batches after augmentation (a
        single value for every channel, or one per channel; three values on
        one channel are averaged).

    ``batch(index, epoch)`` is what the training engine calls; indexing
    (``ds[i]``) serves ``torch.utils.data.DataLoader`` users.
    """

    def __init__(
        self,
        images,
        labels,
        metadata=None,
        ids: Optional[Sequence[str]] = None,
        augment: Optional[Augment] = None,
        seed: int = 0,
        mean: Optional[Sequence[float]] = None,
        std: Optional[Sequence[float]] = None,
    ) -> None:
        images = torch.as_tensor(images)
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4:
            raise ValueError(f"images shape {tuple(images.shape)} is not (N, C, H, W) or (N, H, W)")
        labels = torch.as_tensor(labels, dtype=torch.int64).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images.contiguous()
        self.labels = labels
        self.metadata = None if metadata is None else torch.as_tensor(metadata, dtype=torch.float32)
        if self.metadata is not None and len(self.metadata) != len(images):
            raise ValueError(f"{len(images)} images but {len(self.metadata)} metadata rows")
        self.ids = list(ids) if ids is not None else [str(i) for i in range(len(images))]
        self.augment = augment
        self.seed = seed
        self.set_normalization(mean, std)

    def set_normalization(self, mean: Optional[Sequence[float]], std: Optional[Sequence[float]]) -> None:
        self._float_cache = None
        if mean is None or std is None:
            self._mean = self._std = None
            return
        channels = self.images.shape[1]
        mean_t = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std_t = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if (std_t <= 0).any():
            raise ValueError(f"std {list(std)} must be positive")
        if len(mean_t) != channels:
            mean_t, std_t = mean_t.mean().expand(channels), std_t.mean().expand(channels)
        self._mean = mean_t.reshape(1, channels, 1, 1).clone()
        self._std = std_t.reshape(1, channels, 1, 1).clone()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def metadata_features(self) -> int:
        return 0 if self.metadata is None else int(self.metadata.shape[1])

    def _to_float(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()

    def _normalized(self, x: torch.Tensor) -> torch.Tensor:
        x = self._to_float(x)
        if self._mean is not None:
            x = x.sub_(self._mean).div_(self._std)
        return x

    def _cached(self) -> Optional[torch.Tensor]:
        if self._float_cache is None and self.images.numel() * 4 <= FLOAT_CACHE_BYTES:
            self._float_cache = self._normalized(self.images.clone())
        return self._float_cache

    def _augmented(self, index: torch.Tensor, epoch: int) -> torch.Tensor:
        out = []
        for i in index.tolist():
            img = self._to_float(self.images[i]).numpy()
            hwc = img[0] if img.shape[0] == 1 else np.moveaxis(img, 0, -1)
            rng = np.random.default_rng([self.seed, epoch, i])
            res = np.asarray(self.augment(hwc, rng), dtype=np.float32)
            res = res[None] if res.ndim == 2 else np.moveaxis(res, -1, 0)
            out.append(torch.from_numpy(np.ascontiguousarray(res)))
        return torch.stack(out)

    def batch(self, index: torch.Tensor, epoch: int = 0):
        """``(x float32 (B,C,H,W), y int64 (B,), metadata (B,M) or None)`` for ``index``."""
        if self.augment is not None:
            x = self._normalized(self._augmented(index, epoch))
        else:
            cache = self._cached()
            x = cache[index] if cache is not None else self._normalized(self.images[index])
        meta = None if self.metadata is None else self.metadata[index]
        return x, self.labels[index], meta

    def __getitem__(self, i: int):
        x, y, meta = self.batch(torch.tensor([i]))
        if meta is None:
            return x[0], y[0]
        return x[0], y[0], meta[0]
