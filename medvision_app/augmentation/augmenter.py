"""Random augmentation of one image, driven by an explicit random generator.

The training engine calls an :class:`Augmenter` once per sample from its
``Dataset.__getitem__``::

    augment = build_augmenter(config)            # once; picklable for DataLoader workers
    ...
    image = augment(image, rng)                  # (H, W) or (H, W, C) float32 in [0, 1]

``rng`` is a ``numpy.random.Generator``, a ``torch.Generator`` or an ``int``
seed; the same generator state gives the same result, so a seeded run is
repeatable. The geometric transforms are torchvision.transforms.v2's
functional ``affine`` and flips; the random parameters are drawn here, from
``rng``, so that no global random state is touched.
"""

from __future__ import annotations

from typing import Union

import numpy as np
import torch
import torchvision.transforms.v2.functional as F
from torchvision.transforms import InterpolationMode

from medvision_app.augmentation.config import AugmentationConfig
from medvision_app.preprocessing.intensity import to_unit_float
from medvision_app.preprocessing.svd import svd_reconstruct

__all__ = ["Augmenter", "build_augmenter", "as_generator"]

RngLike = Union[np.random.Generator, torch.Generator, int, None]


def as_generator(rng: RngLike) -> np.random.Generator:
    """A numpy Generator from a numpy Generator, a torch Generator, a seed or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, torch.Generator):
        seed = int(torch.randint(0, 2**62, (1,), generator=rng).item())
        return np.random.default_rng(seed)
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, a torch Generator, an int or None, got {type(rng).__name__}")


class Augmenter:
    """Callable ``(image, rng) -> image`` built from an :class:`AugmentationConfig`.

    Input: ``(H, W)`` or ``(H, W, C)``, float in ``[0, 1]`` (integer images are
    divided by their dtype maximum). Output: float32 of the same shape, in
    ``[0, 1]``; the input is not modified.
    """

    def __init__(self, config: AugmentationConfig) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"Augmenter({self.config!r})"

    def __call__(self, image: np.ndarray, rng: RngLike = None) -> np.ndarray:
        gen = as_generator(rng)
        out = to_unit_float(image)  # a new array: the caller's image is never touched
        params = self.sample(gen, out.shape[:2])
        return self.apply(out, params)

    def sample(self, gen: np.random.Generator, shape: tuple[int, int]) -> dict:
        """Draw the random parameters for one image of ``shape`` (rows, columns).

        Every draw is made whether or not its transform fires, so a change of
        one probability does not shift the random stream of the others.
        """
        cfg = self.config
        h, w = shape
        rot = cfg.rotation
        fires = gen.random(8) < np.array([
            rot.probability, cfg.translation.probability, cfg.shear.probability, cfg.zoom.probability,
            cfg.horizontal_flip, cfg.vertical_flip, cfg.invert, cfg.svd.probability,
        ])
        angle = float(gen.choice(rot.choices)) if rot.choices else float(gen.uniform(*rot.degrees))
        tr = cfg.translation
        max_dy, max_dx = (tr.pixels, tr.pixels) if tr.pixels > 0 else (tr.fraction * h, tr.fraction * w)
        shift = (float(gen.uniform(-max_dx, max_dx)), float(gen.uniform(-max_dy, max_dy)))
        shear = [float(v) for v in gen.uniform(-cfg.shear.degrees, cfg.shear.degrees, size=2)]
        scale = float(gen.uniform(1.0 - cfg.zoom.amount, 1.0 + cfg.zoom.amount))
        k = int(gen.choice(cfg.svd.ranks)) if cfg.svd.ranks else 0
        return {
            "angle": angle if fires[0] else 0.0,
            "translate": list(shift) if fires[1] else [0.0, 0.0],
            "shear": shear if fires[2] else [0.0, 0.0],
            "scale": scale if fires[3] else 1.0,
            "hflip": bool(fires[4]),
            "vflip": bool(fires[5]),
            "invert": bool(fires[6]),
            "svd_k": k if fires[7] else 0,
        }

    def apply(self, image: np.ndarray, params: dict) -> np.ndarray:
        """Apply drawn ``params`` to a float32 ``[0, 1]`` image (may reuse its memory)."""
        cfg = self.config
        out = image
        if params["svd_k"]:
            out = svd_reconstruct(out, params["svd_k"], clip=True)
        if params["invert"]:
            # Before the affine step, so that pixels moved in from outside
            # keep the configured fill instead of becoming its inverse.
            out = 1.0 - out
        angle = params["angle"] % 360.0
        h, w = out.shape[:2]
        if angle and angle % 90.0 == 0.0 and (h == w or angle == 180.0):
            # Quarter turns of a square image are exact with rot90: no blur.
            out = np.rot90(out, k=int(angle // 90)).copy()
            angle = 0.0
        tensor = torch.from_numpy(np.ascontiguousarray(out))
        tensor = tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)  # C x H x W
        if angle or params["translate"] != [0.0, 0.0] or params["shear"] != [0.0, 0.0] or params["scale"] != 1.0:
            mode = InterpolationMode.BILINEAR if cfg.interpolation == "bilinear" else InterpolationMode.NEAREST
            tensor = F.affine(tensor, angle=angle, translate=params["translate"], scale=params["scale"],
                              shear=params["shear"], interpolation=mode, fill=[cfg.fill] * tensor.shape[0])
        if params["hflip"]:
            tensor = F.horizontal_flip(tensor)
        if params["vflip"]:
            tensor = F.vertical_flip(tensor)
        result = tensor[0] if image.ndim == 2 else tensor.permute(1, 2, 0)
        return np.clip(result.numpy(), 0.0, 1.0).astype(np.float32, copy=False)


def build_augmenter(config: AugmentationConfig) -> Augmenter:
    """The per-sample augmentation for a training ``Dataset``: ``augment(image, rng)``."""
    return Augmenter(config)
