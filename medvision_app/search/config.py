"""Search configuration: one dataclass tree that round-trips to JSON/TOML."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional, get_args

from medvision_app.augmentation.config import AugmentationConfig
from medvision_app.evaluation.settings import EvalSettings
from medvision_app.utils.config_schema import option

Method = Literal["bbnas", "se-bbnas", "enas"]
METHODS = get_args(Method)
Schedule = Literal["constant", "cosine"]
FinalInit = Literal["scratch", "search"]
# auto: in this process with one worker, else a pool of worker processes
ExecutorName = Literal["auto", "local", "process", "ray"]
EXECUTORS = get_args(ExecutorName)
# The searches that train children one by one, which an executor places; ENAS
# trains one shared network in the job's own process.
BBNAS_METHODS = ("bbnas", "se-bbnas")


def candidates_on_ray(method: Optional[str], executor: Optional[str]) -> bool:
    """Whether a search with this ``method`` and ``executor`` trains its candidates on Ray (ENAS never does)."""
    return executor == "ray" and method != "enas"


@dataclass
class CandidateTraining:
    """Partial training of each BbNAS child (the paper's settings by default)."""

    lr: float = option(0.001, help="Adam learning rate of each child.", range=(1e-12, 10.0))
    beta1: float = option(0.9, help="Adam's first moment decay.", range=(0.0, 0.9999))
    beta2: float = option(0.999, help="Adam's second moment decay.", range=(0.0, 0.99999))
    eps: float = option(1e-7, help="Adam's denominator term.", range=(1e-12, 1.0))
    weight_decay: float = option(0.02, help="L2 penalty, as the paper's Keras regulariser.", range=(0.0, 1.0))
    patience: int = option(2, help="Early stopping on the validation loss.", range=(1, None), unit="epochs")
    max_epochs: int = option(10, help="Most epochs a child trains.", range=(1, None), unit="epochs")
    batch_size: int = option(64, help="Images per step.", range=(1, 65_536), unit="images")
    inherited_lr: float = option(0.001, help="Adam learning rate of a child that starts from its parent's "
                                 "weights (search.inherit).", range=(1e-12, 10.0))
    inherited_max_epochs: int = option(2, help="Most epochs of a child that starts from its parent's weights "
                                       "(search.inherit).", range=(1, None), unit="epochs")


@dataclass
class RaySettings:
    """Where and how candidates run on a Ray cluster (``executor = "ray"``)."""

    address: str = option("", help="Ray cluster: empty starts a local instance, auto joins the one started "
                                   "with ray start on this machine, or HOST:PORT.")
    gpus_per_candidate: float = option(1.0, help="GPUs (or a fraction of one) each candidate asks for when the "
                                       "cluster has GPUs.", range=(0.01, 64.0), unit="GPUs")
    cpus_per_candidate: float = option(1.0, help="CPUs each candidate asks for when the cluster has no GPU.",
                                       range=(0.01, 1024.0), unit="CPUs")
    max_retries: int = option(3, help="Times a candidate whose worker died is run again.", range=(0, 100))


# A final.* setting the ENAS retraining does not read (the search's method, from the root)
_BBNAS_ROOT = {"/method": BBNAS_METHODS}


@dataclass
class FinalTraining:
    """Full retraining of the returned architecture before the test evaluation."""

    # ENAS retrains with its own enas.final_* settings, so these show for BbNAS only
    epochs: int = option(30, help="Epochs of the BbNAS retraining (ENAS: enas.final_epochs).", range=(1, None),
                         unit="epochs", when=_BBNAS_ROOT)
    patience: int = option(5, help="Early stopping on the validation loss.", range=(1, None), unit="epochs",
                           when=_BBNAS_ROOT)
    lr: float = option(0.001, help="Learning rate of the BbNAS retraining (ENAS: enas.child_lr_max).",
                       range=(1e-12, 10.0), when=_BBNAS_ROOT)
    weight_decay: float = option(0.0001, help="L2 penalty of the BbNAS retraining (ENAS: enas.child_weight_decay).",
                                 range=(0.0, 1.0), when=_BBNAS_ROOT)
    batch_size: int = option(64, help="Images per step of the BbNAS retraining (ENAS: enas.batch_size).",
                             range=(1, 65_536), unit="images", when=_BBNAS_ROOT)
    init: FinalInit = option("scratch", help="Where the BbNAS retraining starts: scratch (new weights, the "
                             "paper's), or search (the weights the search trained for its answer, kept in "
                             "weights/ when children inherit).", when=_BBNAS_ROOT)
    schedule: Schedule = option("constant", help="Learning rate of the BbNAS retraining: constant, or cosine "
                                "decay to lr / 100 over the epochs (ENAS's retraining is always cosine).",
                                when=_BBNAS_ROOT)
    train_limit: Optional[int] = option(None, help="Training images of the retraining: empty, the search's "
                                        "train_limit; 0, the whole training split (the search's validation and "
                                        "test images stay).", range=(0, None), unit="images")
    ensemble: int = option(1, help="Retrain that many copies of the answer, each from its own new weights, and "
                           "average their probabilities (model.ensemble of a training run); needs init = scratch.",
                           range=(1, 8), unit="networks")
    ema_decay: float = option(0.0, help="Average the retraining's weights over its steps with this decay and keep "
                              "the average (train.ema_decay of a training run; 0: off).", range=(0.0, 0.99999))
    augmentation: AugmentationConfig = option(
        help="Random transforms of the retraining's images (the augmentation section of a training run; "
             "none by default, as the papers retrain).", default_factory=AugmentationConfig)
    # The retrained network is what a user exports: it is evaluated as a
    # training run's model is, so a search's answer and a recipe's compare.
    eval: EvalSettings = option(help="Test-time flips, temperature and operating threshold of the retrained "
                                     "network (the eval section of a training run).", default_factory=EvalSettings)


@dataclass
class EnasSettings:
    """ENAS micro search (Pham et al. 2018), defaults from the authors' CIFAR-10 script.

    ``balanced_loss`` and ``balanced_reward`` are ours, for imbalanced medical
    data: the shared weights' loss weighs each class by N / (C * N_c) and the
    controller's reward is the balanced accuracy, so neither can settle on
    the majority class (BreastMNIST is 73 % one class).
    """

    channels: int = option(20, help="The supernet's cell width.", range=(1, None), unit="channels")
    layers_per_stage: int = option(2, help="Normal cells between reductions in the supernet.", range=(1, None))
    nodes: int = option(5, help="Nodes per cell.", range=(1, None))
    lstm_size: int = option(64, help="Width of the controller's LSTM.", range=(1, None))
    controller_lr: float = option(0.0035, help="Controller's Adam learning rate.", range=(1e-12, 10.0))
    tanh_constant: float = option(1.10, help="Scale of the controller's tanh-squashed logits.", range=(0.0, None))
    op_tanh_reduce: float = option(2.5, help="Operation logits use tanh_constant divided by this.", range=(1e-6, None))
    entropy_weight: float = option(1e-4, help="Controller's entropy bonus added to the reward.", range=(0.0, 10.0))
    baseline_decay: float = option(0.99, help="Decay of the reward's moving-average baseline.", range=(0.0, 1.0))
    controller_steps: int = option(30, help="Controller updates after each shared epoch.", range=(0, None))
    child_lr_max: float = option(0.05, help="Shared weights' learning rate at the start of the cosine.", range=(1e-12, 10.0))
    child_lr_min: float = option(0.0005, help="Shared weights' learning rate at the end of the cosine.", range=(0.0, 10.0))
    child_momentum: float = option(0.9, help="Nesterov momentum of the shared weights.", range=(0.0, 1.0))
    child_weight_decay: float = option(1e-4, help="L2 penalty of the shared weights.", range=(0.0, 1.0))
    batch_size: int = option(64, help="Images per shared step.", range=(1, 65_536), unit="images")
    epochs: int = option(10, help="Shared epochs (each followed by controller_steps updates).", range=(1, None), unit="epochs")
    derive_samples: int = option(10, help="Architectures sampled at the end; the best on validation wins.", range=(1, None))
    final_channels: int = option(24, help="Cell width of the retrained networks.", range=(1, None), unit="channels")
    final_shapes: list[str] = option(help="Shapes retrained from the best cells (enas-7, enas-17).",
                                     default_factory=lambda: ["enas-7", "enas-17"])
    final_epochs: int = option(20, help="Epochs of each final retraining.", range=(1, None), unit="epochs")
    balanced_loss: bool = option(True, help="Class-weighted loss for the shared weights (N / (C * N_c)).")
    balanced_reward: bool = option(True, help="Controller reward: balanced accuracy on the validation batch "
                                              "(false: plain accuracy, as the authors).")


# Settings that mean something only for some searches (the form shows them then).
_BBNAS = {"method": BBNAS_METHODS}
_INHERITING = {**_BBNAS, "inherit": (True,)}
_DISCARDING = {**_INHERITING, "early_discard": (True,)}


@dataclass
class SearchConfig:
    method: Method = option("bbnas", help="bbnas, se-bbnas (squeeze-and-excitation blocks) or enas.")
    data: str = option("", help="The training data (as data.path of a training run).")
    seed: int = option(0, help="Seed of every random choice of the search.", range=(0, 2**32 - 1))
    children_per_iteration: int = option(8, help="Children drawn per BbNAS iteration.", range=(1, None),
                                         when=_BBNAS)
    max_iterations: int = option(0, help="Most iterations (0: until the stopping rule or the time budget).",
                                 range=(0, None))
    budget_seconds: float = option(0.0, help="Time budget (0: no limit).", range=(0.0, None), unit="seconds")
    workers: int = option(1, help="Children trained at the same time.", range=(1, 256), when=_BBNAS)
    max_params: int = option(20_000_000, help="Children above this size are redrawn.", range=(1, None),
                             unit="parameters", when=_BBNAS)
    train_limit: int = option(0, help="Training images used (0: all; else a class-stratified subsample).",
                              range=(0, None), unit="images")
    val_limit: int = option(0, help="Validation images used (0: all).", range=(0, None), unit="images")
    val_fraction: float = option(0.1, help="Validation share carved from train when the source has none.",
                                 range=(0.0, 1.0))
    device: str = option("auto", help="Where candidates train: auto, cpu, cuda or cuda:N.")
    inherit: bool = option(True, help="Children start from their parent's trained weights, computing its "
                                      "function (false: from scratch, the paper's procedure).", when=_BBNAS)
    early_discard: bool = option(True, help="With inherit: stop a child whose first-epoch validation accuracy "
                                            "trails its parent's by more than discard_margin.",
                                 when=_INHERITING)
    # 0 discarded 28 of 32 inheriting MNIST children on an H200: a fresh Adam's
    # first epoch moves a trained network's weights enough to cost a few tenths
    discard_margin: float = option(0.01, help="How far a child may trail its parent after its first epoch.",
                                   range=(0.0, 1.0), when=_DISCARDING)
    discard_min_images: int = option(2, help="The discard margin is at least this many validation images' "
                                     "worth, so that one image's noise discards no child.", range=(0, None),
                                     unit="images", when=_DISCARDING)
    stop_patience: int = option(1, help="Iterations in a row whose best trails the best so far before the "
                                "search stops (1: the paper's rule, stop at the first fall). On a small "
                                "validation split one image decides a fall; a larger patience keeps the parents "
                                "and draws again.", range=(1, None), unit="iterations", when=_BBNAS)
    # On BreastMNIST's 78 validation images a search raised the answer's accuracy from
    # 0.833 to 0.859 (two images) with a network that scored lower on test.
    select_margin: float = option(0.0, help="An iteration's best replaces the answer only when its validation "
                                  "accuracy leads the answer's by more than this many standard errors of the "
                                  "difference (binomial, on the validation images); the parents advance either "
                                  "way. 0: the paper's rule, any lead or a tie.", range=(0.0, 10.0),
                                  unit="standard errors", when=_BBNAS)
    successive_halving: bool = option(True, help="With inherit, when an iteration has more children than "
                                                 "workers: one epoch each, then the better half goes on.",
                                      when=_INHERITING)
    executor: ExecutorName = option("auto", help="Where children train: local (this process), process (a pool "
                                                 "of workers), ray (a Ray cluster), auto (local or process); "
                                                 "ENAS trains its one shared network in this process.",
                                    when=_BBNAS)
    ray: RaySettings = option(help="The Ray cluster (executor = ray).", default_factory=RaySettings,
                              when={**_BBNAS, "executor": ("ray",)})
    candidate: CandidateTraining = option(help="How each BbNAS child trains.", default_factory=CandidateTraining,
                                          when=_BBNAS)
    final: FinalTraining = field(default_factory=FinalTraining)
    enas: EnasSettings = option(help="The ENAS micro search.", default_factory=EnasSettings,
                                when={"method": ("enas",)})

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction={self.val_fraction} must be between 0 and 1")
        if self.final.ensemble > 1 and self.final.init == "search":
            # copies of one set of trained weights would stay one network
            raise ValueError("final.ensemble > 1 needs final.init = 'scratch': members from the search's weights "
                             "would all start as the same network")

    @property
    def block(self) -> str:
        return "SEIB" if self.method == "se-bbnas" else "IB"
