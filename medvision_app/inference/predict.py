"""``predict(image, model)``: one image through the card's preprocessing and the ONNX graph.

The stages are timed separately (open, preprocess, infer, heatmap) so the
prediction panel and the benchmarks can show where the time goes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Union

import numpy as np

from medvision_app.imaging.contrast import require_contrast
from medvision_app.inference.card import ModelCard
from medvision_app.inference.errors import ModelError
from medvision_app.inference.intended_use import STATUS_OK
from medvision_app.inference.model import (
    ATTENTION_OUTPUT,
    CAM_OUTPUT,
    IMAGE_INPUT,
    METADATA_INPUT,
    PROBS_OUTPUT,
    LoadedModel,
    load_model,
)

# An explainer for networks without Soft-Attention (Grad-CAM from the run's
# checkpoint): (model-space input C x H x W, class index) -> map (h, w) in [0, 1].
Explainer = Callable[[np.ndarray, int], np.ndarray]
if TYPE_CHECKING:
    from medvision_app.imaging import MedicalImage

ImageLike = Union[str, Path, "MedicalImage", np.ndarray]


@dataclass
class Prediction:
    """The result of :func:`predict`.

    Attributes
    ----------
    probabilities : dict class name -> probability (they sum to 1)
    predicted : str, the class chosen (the card's operating threshold when it
        has one, else the most probable)
    heatmap_kind : "soft-attention", "cam", "grad-cam"... or None
    model : str, the model's identity (name, version, hash prefix)
    provider : str, the onnxruntime provider that ran the graph
    timings : dict stage -> seconds (open, preprocess, infer, heatmap)
    source : str, the file predicted, or "<array>"
    model_space : ndarray (h, w) in [0, 1], the heatmap in model space (the
        CAM of the predicted class, the sum of the attention maps), or None
    attention_maps : ndarray (K, h, w), the Soft-Attention maps, or None
    geometry : the map from the original image to model space
    original_shape : (rows, columns) of the image predicted
    heatmap_note : why there is no heatmap, when there is none
    status, reason : ``STATUS_*`` and, unless ok, why
    research_override : analysed although outside intended use, on the user's explicit request
    """

    probabilities: dict[str, float]
    predicted: str
    heatmap_kind: Optional[str]
    model: str
    provider: str
    timings: dict[str, float] = field(default_factory=dict)
    source: str = "<array>"
    model_space: Optional[np.ndarray] = None
    attention_maps: Optional[np.ndarray] = None
    geometry: Optional[object] = None
    original_shape: Optional[tuple[int, int]] = None
    heatmap_note: str = ""
    status: str = STATUS_OK
    reason: str = ""
    research_override: bool = False
    _registered: Optional[np.ndarray] = field(default=None, repr=False, compare=False)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.predicted]

    @property
    def heatmap(self) -> Optional[np.ndarray]:
        """The heatmap on the original image's grid, float32 in [0, 1], or None (computed once, on first use)."""
        if self._registered is None and self.model_space is not None:
            self._registered = self.heatmap_on(self.original_shape)
        return self._registered

    def heatmap_on(self, shape: tuple[int, int], maps: Optional[np.ndarray] = None) -> np.ndarray:
        """A model-space map (default :attr:`model_space`) registered onto a grid of ``shape``.

        ``shape`` may be coarser than the original: the same field of view at
        a lower resolution (what the viewer draws under a transform).
        """
        from medvision_app.explanation.attention import normalise

        source = self.model_space if maps is None else maps
        if source is None or self.geometry is None:
            raise ValueError("this prediction has no heatmap")
        # Renormalised on the target grid: bilinear sampling rarely lands on the model-space peak.
        return normalise(self.geometry.to_original(source, tuple(shape)))

    def to_dict(self) -> dict:
        """JSON-able summary (without the heatmap array)."""
        return {
            "source": self.source,
            "status": self.status,
            "reason": self.reason,
            "research_override": self.research_override,
            "predicted": self.predicted,
            "probabilities": dict(self.probabilities),
            "model": self.model,
            "provider": self.provider,
            "heatmap": self.heatmap_kind,
            "timings_ms": {k: round(v * 1000, 3) for k, v in self.timings.items()},
        }


def decide(probs: np.ndarray, card: ModelCard) -> int:
    """Index of the class reported: the card's operating threshold on a two-class model, else argmax.

    ``card.threshold`` (when a card has one) is the probability of the first
    class at or above which the first class is reported.
    """
    threshold = getattr(card, "threshold", None)
    if isinstance(threshold, (int, float)) and len(probs) == 2:
        return 0 if float(probs[0]) >= float(threshold) else 1
    return int(np.argmax(probs))


def _normalisation(card: ModelCard) -> Optional[tuple[np.ndarray, np.ndarray]]:
    if not card.input_mean:
        return None
    mean = np.asarray(card.input_mean, dtype=np.float32)
    std = np.asarray(card.input_std, dtype=np.float32)
    if len(mean) != card.input_channels:
        # the training dataset's rule: values for another channel count are averaged
        mean = np.full(card.input_channels, mean.mean(), np.float32)
        std = np.full(card.input_channels, std.mean(), np.float32)
    return mean[:, None, None], std[:, None, None]


def preprocess(display: np.ndarray, card: ModelCard, pipeline=None):
    """The model input of one display image, exactly as the training data loader built it.

    The card's pipeline, then the resize to the model's size and channel
    count with 8-bit quantisation (``medvision_app.data.images.to_model_input``),
    then the card's mean/std normalisation.

    Returns
    -------
    (tensor, geometry) : float32 ``(C, H, W)``, and the map from the display
    image to model space (pipeline and final resize composed).
    """
    from medvision_app.data.images import to_model_input
    from medvision_app.preprocessing import Geometry, apply_pipeline

    rows, cols = card.input_size
    if rows != cols:
        raise ModelError("model card", f"input size {card.input_size} is not square, as training requires")
    array, geometry = apply_pipeline(display, pipeline if pipeline is not None else card.pipeline())
    h, w = array.shape[:2]
    tensor = to_model_input(array, rows, card.input_channels).astype(np.float32) / np.float32(255.0)
    if (h, w) != (rows, cols):
        geometry = geometry.then(Geometry((h, w), (rows, cols), (rows / h, cols / w)))
    norm = _normalisation(card)
    if norm is not None:
        tensor = (tensor - norm[0]) / norm[1]
    return np.ascontiguousarray(tensor, dtype=np.float32), geometry


def predict_batch(tensors: np.ndarray, model: LoadedModel, *, metadata: Optional[np.ndarray] = None,
                  attention: bool = False) -> dict[str, np.ndarray]:
    """Probabilities (and attention maps) of a batch of preprocessed inputs ``(N, C, H, W)``.

    The probabilities are adjusted with the card's ``logit_offsets`` and
    calibrated with its ``temperature``.
    """
    feeds = {IMAGE_INPUT: np.ascontiguousarray(tensors, dtype=np.float32)}
    if model.card.metadata_features:
        if metadata is None:
            raise ModelError(model.path, f"this model needs {model.card.metadata_features} patient metadata features")
        meta = np.asarray(metadata, dtype=np.float32).reshape(len(tensors), -1)
        if meta.shape[1] != model.card.metadata_features:
            raise ModelError(model.path, f"metadata has {meta.shape[1]} features, the model takes "
                                         f"{model.card.metadata_features}")
        feeds[METADATA_INPUT] = meta
    wanted = [PROBS_OUTPUT] + ([ATTENTION_OUTPUT] if attention and model.has_attention else [])
    wanted += [CAM_OUTPUT] if attention and model.has_cam else []
    outputs = model.session.run(feeds, wanted)
    temperature = float(getattr(model.card, "temperature", 1.0) or 1.0)
    offsets = list(getattr(model.card, "logit_offsets", None) or []) or None
    if temperature != 1.0 or offsets is not None:
        # the card's decision rule and calibration, fitted on the validation split:
        # softmax((z + offsets) / T) from the graph's softmax(z)
        from medvision_app.evaluation.temperature import scale_probabilities

        outputs[PROBS_OUTPUT] = scale_probabilities(outputs[PROBS_OUTPUT], temperature, offsets).astype(np.float32)
    return outputs


def _open(image: ImageLike):
    if isinstance(image, np.ndarray):
        return "<array>", np.asarray(image, dtype=np.float32)
    if isinstance(image, (str, Path)):
        from medvision_app.imaging import open_image

        medical = open_image(image)
        return str(image), medical.display_float(0)
    return str(getattr(image, "path", "<image>")), image.display_float(0)


def predict(
    image: ImageLike,
    model: LoadedModel | str | Path,
    *,
    heatmap: bool = True,
    explainer: Optional[Explainer] = None,
    metadata: Optional[np.ndarray] = None,
) -> Prediction:
    """Classify one image with a verified model.

    Parameters
    ----------
    image : path, MedicalImage or ndarray
        A file (DICOM or raster: opened by the imaging core, VOI and
        MONOCHROME1 applied), an opened image, or a display image already in
        [0, 1] (H, W) or (H, W, 3).
    model : LoadedModel or path
        A path is verified and loaded first.
    heatmap : bool
        Compute the heatmap: ``explainer`` when given, else the Soft-Attention
        output (None for networks without attention).
    explainer : callable, optional
        ``(input (C, H, W), class index) -> map (h, w)``, e.g.
        :class:`~medvision_app.explanation.GradCamExplainer` on the run's checkpoint.
    metadata : ndarray (F,), optional
        Encoded patient metadata, required by metadata-fusion models.

    Raises
    ------
    ImageOpenError
        The image cannot be opened, or (:class:`~medvision_app.imaging.contrast.NoContrastError`)
        shows one flat grey level: "image has no contrast".
    ModelError
        The model is refused, or needs metadata that was not given.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    card = loaded.card
    source, display = _open(image)
    # A flat image (a window above every value, a blank export) gets no answer.
    require_contrast(display, source)
    timings["open"] = time.perf_counter() - start

    start = time.perf_counter()
    tensor, geometry = preprocess(display, card, loaded.pipeline)
    timings["preprocess"] = time.perf_counter() - start

    start = time.perf_counter()
    outputs = predict_batch(tensor[None], loaded, metadata=metadata, attention=heatmap and explainer is None)
    probs = outputs[PROBS_OUTPUT][0].astype(np.float64)
    timings["infer"] = time.perf_counter() - start

    start = time.perf_counter()
    index = decide(probs, card)
    model_space, maps, kind, note = None, None, None, ""
    if heatmap:
        model_space, maps, kind, note = _model_space_heatmap(outputs, tensor, index, explainer, card)
    timings["heatmap"] = time.perf_counter() - start

    return Prediction(
        probabilities={name: float(p) for name, p in zip(card.classes, probs, strict=False)},
        predicted=card.classes[index],
        heatmap_kind=kind,
        model=loaded.identity,
        provider=loaded.provider,
        timings=timings,
        source=source,
        model_space=model_space,
        attention_maps=maps,
        geometry=geometry,
        original_shape=tuple(display.shape[:2]),
        heatmap_note=note,
    )


def _model_space_heatmap(outputs, tensor, index, explainer, card):
    """(map (h, w) in [0, 1], attention maps (K, h, w) or None, kind, note when there is no map)."""
    from medvision_app.explanation.attention import attention_heatmap, normalise

    if explainer is not None:
        return normalise(explainer(tensor, index)), None, getattr(explainer, "kind", "grad-cam"), ""
    if ATTENTION_OUTPUT in outputs:
        maps = np.asarray(outputs[ATTENTION_OUTPUT][0], dtype=np.float32)
        return attention_heatmap(maps), maps, "soft-attention", ""
    if CAM_OUTPUT in outputs:
        return normalise(outputs[CAM_OUTPUT][0][index]), None, "cam", ""
    note = card.heatmap_note or ("the model file has no attention or class activation output "
                                 "(exported before MedVision wrote them); re-export it, or use --gradcam RUN_DIR")
    return None, None, None, note
