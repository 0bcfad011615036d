"""Events a search emits; the CLI draws them on stderr, the GUI will show them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from medvision_app.events import Event


@dataclass(frozen=True)
class CandidateStarted(Event):
    iteration: int
    candidate_id: str
    parent_id: Optional[str]
    transformation: str
    genotype: str
    params: int
    flops: int


@dataclass(frozen=True)
class CandidateEpoch(Event):
    candidate_id: str
    epoch: int
    val_accuracy: float
    val_loss: float


@dataclass(frozen=True)
class CandidateFinished(Event):
    iteration: int
    candidate_id: str
    parent_id: Optional[str]
    transformation: str
    genotype: str
    params: int
    flops: int
    accuracy: float
    loss: float
    epochs: int
    seconds: float
    # added with inheritance (issue 15); defaults keep older readers and writers working
    discarded: bool = False  # stopped after its first epoch, trailing its parent
    halted: bool = False  # left behind by successive halving
    inherited: float = 0.0  # share of its parameters taken from its parent


@dataclass(frozen=True)
class IterationFinished(Event):
    iteration: int
    best_id: str
    best_accuracy: float
    smallest_id: str
    smallest_params: int
    stop_reason: Optional[str] = None


@dataclass(frozen=True)
class EnasEpochFinished(Event):
    epoch: int
    shared_loss: float
    shared_accuracy: float
    mean_reward: float
    sampled_arc: str
    seconds: float
    # added with issue 15 (the controller's reward curve); defaults keep older readers working
    baseline: float = 0.0
    entropy: float = 0.0


@dataclass(frozen=True)
class SearchFinished(Event):
    method: str
    best_genotype: str
    params: int
    test_accuracy: Optional[float]
    run_dir: Optional[str]
    stop_reason: str
