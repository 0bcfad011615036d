"""Optimisers and the reduce-on-plateau schedule from :class:`TrainSettings`."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from medvision_app.training.settings import TrainSettings


def parameter_groups(model: nn.Module, settings: TrainSettings) -> list[dict]:
    """The model's own groups (new layers learning faster) when it defines them, else one group."""
    groups_fn = getattr(model, "parameter_groups", None)
    if callable(groups_fn):
        return groups_fn(settings.lr, settings.weight_decay)
    return [{"params": [p for p in model.parameters() if p.requires_grad]}]


def build_optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    groups = parameter_groups(model, settings)
    if settings.optimizer == "adam":
        return torch.optim.Adam(
            groups, lr=settings.lr, betas=tuple(settings.betas), eps=settings.eps, weight_decay=settings.weight_decay
        )
    return torch.optim.SGD(groups, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)


def build_plateau(optimizer: torch.optim.Optimizer, settings: TrainSettings) -> Optional[torch.optim.lr_scheduler.ReduceLROnPlateau]:
    cfg = settings.plateau
    if not cfg.enabled:
        return None
    mode = "min" if cfg.monitor.endswith("loss") else "max"
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=mode, factor=cfg.factor, patience=cfg.patience, min_lr=cfg.min_lr
    )
