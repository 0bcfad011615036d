"""Search configuration: one dataclass tree that round-trips to JSON/TOML."""

from __future__ import annotations

from dataclasses import dataclass, field

METHODS = ("bbnas", "se-bbnas", "enas")


@dataclass
class CandidateTraining:
    """Partial training of each BbNAS child (the paper's settings by default)."""

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-7
    weight_decay: float = 0.02  # L2, as the paper's Keras regulariser
    patience: int = 2  # early stopping on the validation loss
    max_epochs: int = 10
    batch_size: int = 64


@dataclass
class FinalTraining:
    """Full retraining of the returned architecture before the test evaluation."""

    epochs: int = 30
    patience: int = 5
    lr: float = 0.001
    weight_decay: float = 0.0001
    batch_size: int = 64


@dataclass
class EnasSettings:
    """ENAS micro search (Pham et al. 2018), defaults from the authors' CIFAR-10 script."""

    channels: int = 20  # the supernet's cell width
    layers_per_stage: int = 2  # normal cells between reductions in the supernet
    nodes: int = 5
    lstm_size: int = 64
    controller_lr: float = 0.0035
    tanh_constant: float = 1.10
    op_tanh_reduce: float = 2.5
    entropy_weight: float = 1e-4
    baseline_decay: float = 0.99
    controller_steps: int = 30  # controller updates after each child epoch
    child_lr_max: float = 0.05
    child_lr_min: float = 0.0005
    child_momentum: float = 0.9
    child_weight_decay: float = 1e-4
    batch_size: int = 64
    epochs: int = 10
    derive_samples: int = 10  # architectures sampled at the end, the best on validation wins
    final_channels: int = 24
    final_shapes: list[str] = field(default_factory=lambda: ["enas-7", "enas-17"])
    final_epochs: int = 20


@dataclass
class SearchConfig:
    method: str = "bbnas"
    data: str = ""
    seed: int = 0
    children_per_iteration: int = 8
    max_iterations: int = 0  # 0: until the stopping rule or the time budget
    budget_seconds: float = 0.0  # 0: no time limit
    workers: int = 1
    max_params: int = 20_000_000  # children above this are redrawn
    train_limit: int = 0  # 0: every training image; else a class-stratified subsample
    val_limit: int = 0
    val_fraction: float = 0.1  # carved from train when the source has no validation split
    device: str = "auto"
    candidate: CandidateTraining = field(default_factory=CandidateTraining)
    final: FinalTraining = field(default_factory=FinalTraining)
    enas: EnasSettings = field(default_factory=EnasSettings)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        if self.children_per_iteration < 1:
            raise ValueError(f"children_per_iteration={self.children_per_iteration} must be at least 1")
        if self.workers < 1:
            raise ValueError(f"workers={self.workers} must be at least 1")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction={self.val_fraction} must be between 0 and 1")

    @property
    def block(self) -> str:
        return "SEIB" if self.method == "se-bbnas" else "IB"
