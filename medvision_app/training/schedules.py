"""Handlers for a searched network's training: a cosine learning-rate schedule and best-weights restore.

Both attach to :class:`~medvision_app.training.engine.Trainer` like the
other handlers. The schedule keeps no state of its own (the rate follows from
the completed epochs), so a resumed run continues on the same curve; the
best weights are registered with the engine and travel in its checkpoints.
"""

from __future__ import annotations

import math
from typing import Optional

from medvision_app.training.events import EpochFinished, RunFinished, RunStarted


class CosineSchedule:
    """Learning rate ``lr_min + (lr_max - lr_min) * (1 + cos(pi * e / epochs)) / 2`` for epoch ``e + 1``.

    The same curve as ``torch.optim.lr_scheduler.CosineAnnealingLR`` stepped
    once per epoch (ENAS's shared weights and its final retraining use it).
    """

    def __init__(self, lr_max: float, lr_min: float, epochs: int) -> None:
        if epochs < 1:
            raise ValueError(f"epochs={epochs} must be at least 1")
        self.lr_max, self.lr_min, self.epochs = float(lr_max), float(lr_min), int(epochs)

    def lr(self, completed: int) -> float:
        """The rate of the epoch after ``completed`` finished epochs."""
        return self.lr_min + 0.5 * (self.lr_max - self.lr_min) * (1 + math.cos(math.pi * completed / self.epochs))

    def attach(self, engine) -> None:
        self.engine = engine
        # Groups keep their ratio to lr_max (new layers learning faster stay faster);
        # read at attach, before any step or checkpoint has changed the rates.
        self.ratios = [group["lr"] / self.lr_max for group in engine.optimizer.param_groups]
        engine.on(RunStarted, lambda event: self._set(event.start_epoch))
        engine.on(EpochFinished, lambda event: self._set(event.epoch))

    def _set(self, completed: int) -> None:
        for group, ratio in zip(self.engine.optimizer.param_groups, self.ratios, strict=True):
            group["lr"] = self.lr(completed) * ratio


class BestWeights:
    """Keeps a copy of the model at the engine's best epoch and puts it back when the run completes.

    Attach it before the :class:`~medvision_app.training.handlers.Checkpointer`
    so that an epoch's checkpoint already holds that epoch's best weights.
    A cancelled run keeps the weights it was training (a resume continues them).
    """

    def __init__(self) -> None:
        self.weights: Optional[dict] = None

    def attach(self, engine) -> None:
        self.engine = engine
        engine.on(EpochFinished, self._on_epoch)
        engine.on(RunFinished, self._on_finished)
        engine.register_state("best_weights", self)

    def _on_epoch(self, event: EpochFinished) -> None:
        if self.engine.best_epoch == event.epoch or self.weights is None:
            self.weights = {k: v.detach().cpu().clone() for k, v in self.engine.model.state_dict().items()}

    def _on_finished(self, _event: RunFinished) -> None:
        if self.weights is not None:
            self.engine.model.load_state_dict(self.weights)

    def state_dict(self) -> dict:
        return {"weights": self.weights}

    def load_state_dict(self, state: dict) -> None:
        self.weights = state.get("weights")
