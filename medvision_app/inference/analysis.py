"""Analysing images with a model, as the AI panel and batch jobs do: one result per image, always.

Each image ends as an :class:`ImageResult` whose ``status`` is ``ok``,
``outside_intended_use`` (refused, or analysed on an explicit research
override, which the result records) or ``failed`` with the reason, so a
folder of a thousand files never stops on one bad file. Results are looked up
in and written to the :class:`~medvision_app.inference.results_store.ResultsStore`
by image key (SOP Instance UID, else the file's content hash) and model hash.

:func:`analyse` is a generator job (see ``medvision_app.gui.workers``): it
yields an :class:`ImageAnalysed` event per image and returns the list of
results; the cancel token is checked between images. onnxruntime loads here,
inside the job, never when the GUI starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from medvision_app.errors import UserError
from medvision_app.events import CancelToken, Event
from medvision_app.inference.intended_use import STATUS_FAILED, STATUS_OK, STATUS_OUTSIDE

# Class names that mean "the finding a reader wants flagged", for the exam score.
_POSITIVE_WORDS = ("malignant", "cancer", "abnormal", "pneumonia", "positive", "melanoma", "mel")


@dataclass
class ImageResult:
    """What the AI said about one image (plain data: the report and the cache use it as is).

    ``heatmap`` is the model-space map (h, w) in [0, 1] and ``attention_maps``
    the K Soft-Attention maps; ``geometry`` maps the original image to model
    space, so the viewer can place them on the original pixels.
    """

    path: str
    status: str
    reason: str = ""
    probabilities: dict[str, float] = field(default_factory=dict)
    predicted: Optional[str] = None
    score: Optional[float] = None  # probability of the score class (the exam takes the highest)
    score_class: Optional[str] = None
    model: str = ""
    model_sha256: str = ""
    provenance: str = "unknown"
    heatmap_kind: Optional[str] = None
    heatmap_note: str = ""
    research_override: bool = False
    view: Optional[str] = None  # "LCC", "RMLO"... for mammograms
    image_key: str = ""
    cached: bool = False
    heatmap: Optional[np.ndarray] = field(default=None, repr=False)
    # the heatmap already registered on the overlay's grid (grid_shape of the original), made where the
    # analysis ran so the GUI thread only colours it; None for cached results (made again on demand)
    heatmap_grid: Optional[np.ndarray] = field(default=None, repr=False)
    attention_maps: Optional[np.ndarray] = field(default=None, repr=False)
    geometry: Optional[object] = field(default=None, repr=False)
    original_shape: Optional[tuple[int, int]] = None

    @property
    def analysed(self) -> bool:
        return bool(self.probabilities)

    def summary(self) -> dict:
        """JSON-able fields (no arrays)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if f.name not in ("heatmap", "heatmap_grid", "attention_maps", "geometry")}
        out["original_shape"] = list(self.original_shape) if self.original_shape else None
        return out

    def heatmap_on(self, shape: tuple[int, int], maps: Optional[np.ndarray] = None) -> np.ndarray:
        """The model-space heatmap (or ``maps``, e.g. one attention map) on a grid of ``shape`` over the image."""
        from medvision_app.explanation.attention import normalise

        source = self.heatmap if maps is None else maps
        if source is None or self.geometry is None:
            raise ValueError(f"{self.path}: no heatmap")
        return normalise(self.geometry.to_original(source, tuple(shape)))


# Long side of the grid a heatmap is registered onto for the viewer's overlay: a CNN's map is at
# most tens of cells wide, so finer grids only cost time.
GRID_SIDE = 256


def grid_shape(original: tuple[int, int], side: int = GRID_SIDE) -> tuple[int, int]:
    rows, cols = original
    scale = min(1.0, side / max(rows, cols))
    return max(1, round(rows * scale)), max(1, round(cols * scale))


@dataclass(frozen=True)
class ImageAnalysed(Event):
    """One image done: ``done`` of ``total``, with its result."""

    done: int
    total: int
    result: ImageResult


def score_class(classes: Sequence[str]) -> str:
    """The class whose probability is the score: the first that names a finding, else the first class."""
    for name in classes:
        lowered = name.lower()
        if any(word == lowered or lowered.startswith(word) for word in _POSITIVE_WORDS):
            return name
    return classes[0]


def exam_score(results: Sequence[ImageResult]) -> Optional[ImageResult]:
    """The view with the highest score among the analysed ones (the exam's score), or None."""
    scored = [r for r in results if r.score is not None]
    return max(scored, key=lambda r: r.score) if scored else None


def image_key(path: str | Path, image=None) -> str:
    """``sop:<SOP Instance UID>`` when the image has one, else ``sha256:<content hash>``."""
    uid = getattr(getattr(image, "metadata", None), "sop_instance_uid", None)
    if uid:
        return f"sop:{uid}"
    from medvision_app.imaging.files import open_regular

    digest = hashlib.sha256()
    with open_regular(path) as handle:  # a FIFO or /dev/zero would never end
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def view_label(image) -> Optional[str]:
    meta = getattr(image, "metadata", None)
    lat, view = getattr(meta, "laterality", None), getattr(meta, "view_position", None)
    if lat and view:
        return f"{lat}{view}"
    return None


class Analyser:
    """A loaded model plus the settings of one analysis; :meth:`analyse_one` never raises for an image's fault."""

    def __init__(self, model, *, provenance: str = "unknown", research_override: bool = False,
                 store=None) -> None:
        self.model = model
        self.card = model.card
        self.provenance = provenance
        self.research_override = research_override
        self.store = store
        self.score_class = score_class(self.card.classes)

    def _base(self, path: str) -> ImageResult:
        return ImageResult(path=path, status=STATUS_FAILED, model=self.model.identity,
                           model_sha256=self.card.graph_sha256, provenance=self.provenance)

    def analyse_one(self, path: str | Path, image=None) -> ImageResult:
        from medvision_app.imaging import ImageOpenError, open_image
        from medvision_app.inference.errors import ModelError
        from medvision_app.inference.intended_use import check_intended_use, image_modality
        from medvision_app.inference.predict import predict
        from medvision_app.utils.config_io import ConfigError

        result = self._base(str(path))
        # A DICOM header says the modality: an image outside intended use is refused before its pixels
        # are decoded (a full-field mammogram takes far longer to decode than its header to read).
        header = _header_only(path) if image is None else image
        if header is not None:
            check = check_intended_use(self.card, image_modality(header))
            result.view = view_label(header)
            if check.outside and not self.research_override:
                result.image_key = image_key(path, header)
                result.status, result.reason = STATUS_OUTSIDE, check.note
                return result
        try:
            image = image if image is not None else open_image(path)
            result.image_key = image_key(path, image)
        except (ImageOpenError, OSError) as exc:
            result.reason = str(exc)
            return result
        result.view = view_label(image)
        check = check_intended_use(self.card, image_modality(image))
        if check.outside and not self.research_override:
            result.status, result.reason = STATUS_OUTSIDE, check.note
            return result
        if self.store is not None:
            cached = self.store.get(result.image_key, self.card.graph_sha256)
            if cached is not None and cached.research_override == check.outside:
                return dataclasses.replace(cached, path=str(path), cached=True, provenance=self.provenance)
        unknown: list[str] = []
        try:
            metadata = None
            if self.card.metadata_features:
                # a metadata-fusion model: age, sex and site from the header, unknown ones encoded as in training
                from medvision_app.inference.patient import encode_patient, facts_from_image

                metadata, unknown = encode_patient(self.card, facts_from_image(image), str(self.model.path))
            pred = predict(image, self.model, metadata=metadata)
        except (ModelError, ConfigError, ValueError) as exc:
            result.reason = str(exc)
            return result
        result = self._from_prediction(result, pred, check)
        if unknown:
            note = f"patient {', '.join(unknown)} unknown (not in the image's header): encoded as unknown"
            result.reason = f"{result.reason}; {note}" if result.reason else note
        if self.store is not None:
            self.store.put(result)
        return result

    def _from_prediction(self, result: ImageResult, pred, check) -> ImageResult:
        result.status = STATUS_OUTSIDE if check.outside else STATUS_OK
        result.reason = check.note if check.outside else ""
        result.research_override = check.outside
        result.probabilities = dict(pred.probabilities)
        result.predicted = pred.predicted
        result.score_class = self.score_class
        result.score = pred.probabilities[self.score_class]
        result.heatmap_kind = pred.heatmap_kind
        result.heatmap_note = pred.heatmap_note
        result.heatmap = pred.model_space
        result.attention_maps = pred.attention_maps
        result.geometry = pred.geometry
        result.original_shape = pred.original_shape
        if result.heatmap is not None:
            result.heatmap_grid = result.heatmap_on(grid_shape(result.original_shape))
        return result


def analyse(
    paths: Sequence[str | Path],
    model_path: str | Path,
    *,
    research_override: bool = False,
    use_store: bool = True,
    provenance: Optional[str] = None,
    cancel: Optional[CancelToken] = None,
) -> Iterator[ImageAnalysed]:
    """Generator job: analyse ``paths`` with the model at ``model_path``; returns the results.

    Raises ``ModelError`` (before any image) when the model is refused.
    """
    from medvision_app.inference.model import load_model
    from medvision_app.inference.provenance_view import model_provenance
    from medvision_app.inference.results_store import ResultsStore

    model = load_model(model_path)
    analyser = Analyser(model, provenance=provenance or model_provenance(model_path),
                        research_override=research_override, store=ResultsStore() if use_store else None)
    results = []
    for index, path in enumerate(paths):
        if cancel is not None:
            cancel.raise_if_cancelled()
        result = analyser.analyse_one(path)
        results.append(result)
        yield ImageAnalysed(index + 1, len(paths), result)
    return results


def cached_results(paths: Sequence[str | Path], model_sha256: str, *, store=None) -> list[ImageResult]:
    """Stored results of ``paths`` for a model (by image key; headers only for DICOM), without the model.

    What the panel shows at once when a study is reopened. Unreadable files
    and images without a stored result are skipped.
    """
    from medvision_app.inference.results_store import ResultsStore

    store = store or ResultsStore()
    found = []
    for path in paths:
        try:
            key = image_key(path, _header_only(path))
        except (OSError, ValueError, UserError):
            continue
        result = store.get(key, model_sha256)
        if result is not None:
            found.append(dataclasses.replace(result, path=str(path), cached=True))
    return found


def _header_only(path: str | Path):
    """An object with ``.metadata.sop_instance_uid`` for a DICOM file (headers only), else None."""
    from medvision_app.imaging import ImageOpenError
    from medvision_app.imaging.dicom_header import metadata_from_dataset
    from medvision_app.imaging.dicom_reader import read_dataset

    try:
        # Guarded: regular files only, a deflated header inflated under a cap.
        ds = read_dataset(Path(path), stop_before_pixels=True)
    except ImageOpenError:
        return None

    class _Header:
        metadata = metadata_from_dataset(ds)

    return _Header


RESULT_COLUMNS = ("file", "view", "status", "top_class", "probability", "score_class", "score", "reason",
                  "research_override", "model", "provenance")


def results_csv(results: Sequence[ImageResult]) -> str:
    """The results as CSV text (one row per image, :data:`RESULT_COLUMNS`)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for r in results:
        writer.writerow([r.path, r.view or "", r.status, r.predicted or "",
                         f"{r.probabilities[r.predicted]:.6f}" if r.predicted else "",
                         r.score_class or "", f"{r.score:.6f}" if r.score is not None else "", r.reason,
                         "yes" if r.research_override else "", r.model, r.provenance])
    return buffer.getvalue()


def preview_rgb(result: ImageResult, side: int = 240) -> np.ndarray:
    """A small uint8 RGB picture of the result's image with its heatmap blended in (none when it has none).

    Opens the image again (workers call this), reduced so its long side is about ``side``.
    """
    from medvision_app.explanation.overlay import overlay_heatmap
    from medvision_app.imaging import open_image
    from medvision_app.imaging.viewing import display_float_reduced

    image = open_image(result.path)
    display = display_float_reduced(image, 0, max_side=side)
    if result.heatmap is None or result.geometry is None:
        return overlay_heatmap(display, np.zeros(display.shape[:2], np.float32), opacity=0.0)
    heat = result.heatmap_on(display.shape[:2])
    return overlay_heatmap(display, heat, opacity=0.45, threshold=0.2)
