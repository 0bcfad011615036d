"""The model card: what a model is, what it expects, and how well it did.

It is embedded in the ONNX file's ``metadata_props`` (key :data:`CARD_KEY`) and
written beside the file as JSON, so the ``.onnx`` file can travel alone.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from medvision_app import __version__
from medvision_app.utils.config_io import ConfigError, dumps, from_dict

CARD_KEY = "medvision.model_card"
CARD_HASH_KEY = "medvision.model_card_sha256"
INTENDED_USE = "Decision support for research; not a diagnosis."

# How an exported model explains itself (``ModelCard.heatmap``).
HEATMAP_ATTENTION = "soft-attention"  # the graph outputs the K attention maps
HEATMAP_CAM = "cam"  # the graph outputs class activation maps (classes x h x w)
HEATMAP_NONE = "none"  # neither: ``heatmap_note`` says why; Grad-CAM from the run folder


@dataclass
class MetricValue:
    """A metric with its confidence interval (``None`` bounds when not computed)."""

    value: float
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    ci_level: float = 0.95


@dataclass
class TrainingData:
    """What the model was trained on."""

    source: str = ""
    licence: str = ""
    citation: str = ""
    split: str = ""
    # split name -> class name -> number of samples
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    file_list_sha256: str = ""


@dataclass
class ModelCard:
    """Everything a user (and the loader) needs to trust a model file.

    ``input_size`` is ``(height, width)``; ``preprocessing`` is the exact
    ``PipelineConfig`` of training as a plain dict, followed (as in training)
    by the resize to ``input_size``, 8-bit quantisation and the
    ``input_mean``/``input_std`` normalisation; ``graph_sha256`` is the
    hash of the ONNX graph and weights without the metadata.
    """

    name: str
    classes: list[str]
    input_size: tuple[int, int]
    input_channels: int
    preprocessing: dict[str, Any] = field(default_factory=dict)
    # per-channel (x - mean) / std after preprocessing, as the training data loader applied it
    input_mean: list[float] = field(default_factory=list)
    input_std: list[float] = field(default_factory=list)
    version: str = "1"
    architecture: str = ""
    attention: bool = False
    metadata_features: int = 0
    metadata_encoding: dict[str, Any] = field(default_factory=dict)
    training_data: TrainingData = field(default_factory=TrainingData)
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    intended_use: str = INTENDED_USE
    # What the model was trained on, for the intended-use check: DICOM Modality
    # codes ("US", "MG", "DX", "CR") or "dermoscopy"; empty when not known.
    modalities: list[str] = field(default_factory=list)
    body_part: str = ""
    input_description: str = ""
    heatmap: str = ""  # HEATMAP_*; "" on cards written before the field existed
    heatmap_note: str = ""
    limitations: list[str] = field(default_factory=list)
    # Operating point and calibration, fitted on the validation split (issue 16).
    # threshold: the first class is reported when its probability is at or above
    # it (two-class models; None: the most probable class). temperature: predict
    # divides the graph's logits by it (softmax(log p / T)). tta: the flips the
    # graph averages its logits over ("none", "hflip", "hvflip").
    threshold: Optional[float] = None
    temperature: float = 1.0
    tta: str = "none"
    # logit_offsets: added to the graph's log-probabilities before the
    # temperature (eval.prior_adjustment: tau * log of the training priors);
    # empty: none.
    logit_offsets: list[float] = field(default_factory=list)
    created: str = ""
    medvision_version: str = __version__
    graph_sha256: str = ""

    def __post_init__(self) -> None:
        if len(self.classes) < 2:
            raise ValueError(f"a model card needs at least two classes, got {self.classes!r}")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"duplicate class names in {self.classes!r}")
        if self.input_channels not in (1, 3):
            raise ValueError(f"input_channels must be 1 or 3, got {self.input_channels}")
        if len(self.input_size) != 2 or min(self.input_size) < 1:
            raise ValueError(f"input_size must be (height, width) > 0, got {self.input_size!r}")
        if len(self.input_mean) != len(self.input_std) or any(v <= 0 for v in self.input_std):
            raise ValueError(f"input_mean {self.input_mean} and input_std {self.input_std} must have the same "
                             "length and a positive std")
        if self.threshold is not None and (len(self.classes) != 2 or not 0.0 <= self.threshold <= 1.0):
            raise ValueError(f"threshold {self.threshold!r} needs two classes and a value within [0, 1]")
        if not (isinstance(self.temperature, (int, float)) and 0.01 <= self.temperature <= 100.0):
            raise ValueError(f"temperature {self.temperature!r} must be within [0.01, 100]")
        if self.tta not in ("none", "hflip", "hvflip"):
            raise ValueError(f"tta {self.tta!r} must be none, hflip or hvflip")
        if self.logit_offsets and (len(self.logit_offsets) != len(self.classes) or not all(
                isinstance(v, (int, float)) and math.isfinite(v) and abs(v) <= 100.0 for v in self.logit_offsets)):
            raise ValueError(f"logit_offsets {self.logit_offsets!r} must be one finite number per class, "
                             "each within [-100, 100]")
        if not self.created:
            self.created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def heatmap_kind(self) -> str:
        """The card's ``heatmap``, derived for older cards (attention or none)."""
        if self.heatmap:
            return self.heatmap
        return HEATMAP_ATTENTION if self.attention else HEATMAP_NONE

    def pipeline(self):
        """The preprocessing as a ``PipelineConfig``; ConfigError when a step is invalid."""
        from medvision_app.preprocessing import PipelineConfig

        return from_dict(PipelineConfig, self.preprocessing, where="model card preprocessing")

    def to_json(self) -> str:
        return dumps(self, "json")

    @classmethod
    def from_json(cls, text: str, *, source: str = "model card") -> "ModelCard":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON: {exc}") from None
        return from_dict(cls, data, where=source)
