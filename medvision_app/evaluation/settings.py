"""The ``eval`` section of a run configuration: test-time augmentation, calibration, operating threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from medvision_app.utils.config_schema import option

Tta = Literal["none", "hflip", "hvflip"]
ThresholdMethod = Literal["none", "youden", "sensitivity", "fixed"]
PriorAdjustment = Literal["none", "fit", "fixed"]
TTAS = get_args(Tta)
THRESHOLD_METHODS = get_args(ThresholdMethod)


@dataclass
class ThresholdSettings:
    """How a two-class model's operating threshold is chosen on the validation split.

    The threshold is on the first class's (calibrated) probability: the first
    class is reported at or above it (``medvision_app.inference.predict.decide``).
    ``none`` keeps the most probable class; ``youden`` maximises sensitivity +
    specificity - 1; ``sensitivity`` takes the most specific threshold whose
    sensitivity for ``positive`` reaches ``target_sensitivity``; ``fixed`` uses ``value``.
    """

    method: ThresholdMethod = option("none", help="none (most probable class), youden, sensitivity (reach "
                                     "target_sensitivity) or fixed (value); chosen on the validation split.")
    target_sensitivity: float = option(0.9, help="Sensitivity the sensitivity method must reach on validation.",
                                       range=(0.0, 1.0))
    positive: str = option("", help="The class whose sensitivity counts (empty: the first class).")
    value: float = option(0.5, help="The fixed method's threshold on the first class's probability.",
                          range=(0.0, 1.0))


@dataclass
class EvalSettings:
    """What the run does after training, before the test split is scored and the model exported."""

    tta: Tta = option("none", help="Test-time augmentation: average the logits of the image and its "
                      "horizontal flip (hflip) or also its vertical flips (hvflip); the export does the same.")
    temperature_scaling: bool = option(False, help="Fit a temperature on the validation split so the "
                                       "probabilities mean what they say; stored in the model card.")
    threshold: ThresholdSettings = option(help="Operating threshold of a two-class model.",
                                          default_factory=ThresholdSettings)
    # A class-weighted loss trains for balanced priors: its arg-max calls the
    # rare classes often (high recall, low precision, so a low macro-F1).
    # Adding tau * log(prior) moves the decision part-way back to the true
    # priors (logit adjustment, Menon et al. 2021); one number, so the small
    # validation split can fit it where per-class offsets would overfit.
    prior_adjustment: PriorAdjustment = option(
        "none", help="Multi-class decision rule: add prior_tau x log(training class share) to the logits. "
                     "fit: tau on the validation split, the best mean of balanced accuracy and macro-F1; "
                     "fixed: prior_tau as given. Stored in the model card and used by predict.")
    prior_tau: float = option(0.0, help="The fixed adjustment's tau (0: none, 1: the training priors in full).",
                              range=(0.0, 2.0))


def tta_flips(tta: str) -> list[tuple[int, ...]]:
    """The views ``tta`` averages, as ``torch.flip`` dims of an ``(N, C, H, W)`` batch (``()``: the image itself)."""
    views = {"none": [()], "hflip": [(), (3,)], "hvflip": [(), (3,), (2,), (2, 3)]}
    if tta not in views:
        raise ValueError(f"unknown test-time augmentation {tta!r}")
    return views[tta]
