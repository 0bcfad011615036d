"""An exponential moving average of the weights (``train.ema_decay``), kept beside the trained ones.

Averaging the weights of the last few hundred steps tends to land in a
flatter part of the loss than any single step does (Polyak averaging, timm's
ModelEma): steadier validation curves, from which the best epoch is picked.
On this project's recipes it calibrated better but did not rank the test
images better (docs/recipes.md), so it is off by default. The average is
what the run validates, keeps as its best epoch, checkpoints as ``model``
and exports; the raw weights the optimiser steps on are kept here and put
back before the next epoch trains.

Swapping copies values in place, so the optimiser's references to the
parameters stay valid; integer buffers (batch-norm's step count) are not
averaged but follow the model.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn


class WeightAverage:
    """The moving average of ``model``'s floating-point parameters and buffers.

    ``decay`` is the share of the old average kept at each step; the first
    steps use ``(1 + t) / (10 + t)`` when that is smaller, so the average is
    not anchored to the random start. ``swapped`` is True while the model
    holds the average and this object holds the raw weights.
    It is bound to the model's tensors as they are when it is made (every
    step reads them without walking the module again): make it after the
    model is on its device and in its memory format.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight average's decay must be between 0 and 1, got {decay}")
        self.decay = float(decay)
        self.steps = 0
        self.swapped = False
        self._live = [t.detach() for t in self._tensors(model)]  # views of the model's own storage
        self._shadow = [t.clone() for t in self._live]

    @staticmethod
    def _tensors(model: nn.Module) -> list[torch.Tensor]:
        # once each: a tied weight listed under two names would be averaged twice and swapped back
        unique = {id(t): t for t in model.state_dict(keep_vars=True).values() if t.is_floating_point()}
        return list(unique.values())

    @torch.no_grad()
    def update(self) -> None:
        """Fold the model's current weights into the average (after an optimiser step)."""
        if self.swapped:
            raise RuntimeError("the weight average is swapped into the model; swap back before training")
        self.steps += 1
        decay = min(self.decay, (1.0 + self.steps) / (10.0 + self.steps))
        torch._foreach_lerp_(self._shadow, self._live, 1.0 - decay)

    @torch.no_grad()
    def swap(self) -> None:
        """Exchange the model's weights with the ones held here."""
        for held, live in zip(self._shadow, self._live, strict=True):
            spare = live.clone()
            live.copy_(held)
            held.copy_(spare)
        self.swapped = not self.swapped

    def state_dict(self) -> dict:
        return {"decay": self.decay, "steps": self.steps, "swapped": self.swapped,
                "weights": [t.detach().cpu().clone() for t in self._shadow]}

    def load_state_dict(self, state: dict) -> None:
        weights: Optional[list] = state.get("weights")
        if weights is None or len(weights) != len(self._shadow):
            raise ValueError("the checkpoint's weight average does not fit this network")
        for held, saved in zip(self._shadow, weights, strict=True):
            held.copy_(saved.to(held.device))
        self.steps = int(state.get("steps", 0))
        self.swapped = bool(state.get("swapped", False))
