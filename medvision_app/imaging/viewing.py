"""What an interactive viewer needs besides :meth:`MedicalImage.display`.

Reduced-resolution display images (a 12-megapixel mammogram shown in a
700-pixel viewport needs a fraction of its pixels), window/level from a mouse
drag, modality presets, pixel read-out. Pure functions, no Qt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from medvision_app.imaging.display import DisplayPreset, apply_modality_lut, color_to_uint8, to_display
from medvision_app.imaging.medical_image import MedicalImage

# Common radiology windows (center, width) by modality; the file's own windows come first.
MODALITY_PRESETS: dict[str, list[tuple[str, float, float]]] = {
    "CT": [
        ("Brain", 40, 80),
        ("Subdural", 75, 215),
        ("Abdomen", 40, 400),
        ("Mediastinum", 50, 350),
        ("Lung", -600, 1500),
        ("Bone", 400, 1800),
    ],
}


def modality_presets(modality: Optional[str]) -> list[DisplayPreset]:
    """Standard windows for ``modality`` (empty when there are none)."""
    rows = MODALITY_PRESETS.get((modality or "").upper(), [])
    return [DisplayPreset(name, center=float(c), width=float(w)) for name, c, w in rows]


def reduction_factor(shape: tuple[int, int], max_side: int) -> int:
    """Smallest integer factor that brings the longer side of ``shape`` to ``max_side`` or less.

    Raises
    ------
    ValueError
        If ``max_side`` is less than 1.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    return max(1, math.ceil(max(shape[:2]) / max_side))


def reduce_stored(frame: np.ndarray, factor: int) -> np.ndarray:
    """Block-mean of ``frame`` by ``factor`` in both axes, in the input dtype.

    Edge rows/columns that do not fill a block are dropped. ``factor == 1``
    returns ``frame`` itself.
    """
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    if factor == 1:
        return frame
    h, w = frame.shape[0] // factor * factor, frame.shape[1] // factor * factor
    blocks = frame[:h, :w].reshape(h // factor, factor, w // factor, factor, *frame.shape[2:])
    mean = blocks.mean(axis=(1, 3), dtype=np.float32)
    if np.issubdtype(frame.dtype, np.integer):
        return np.rint(mean).astype(frame.dtype)
    return mean.astype(frame.dtype)


@dataclass(frozen=True)
class Window:
    center: float
    width: float


def window_of(image: MedicalImage, preset: DisplayPreset, index: int = 0) -> Window:
    """The center/width a preset stands for (a VOI LUT table is summarised by its input range)."""
    if preset.is_window:
        return Window(float(preset.center), float(preset.width))
    lo = preset.lut_first
    return Window(lo + len(preset.lut) / 2.0, float(len(preset.lut)))


def value_span(image: MedicalImage, index: int = 0) -> float:
    """Range of the frame's modality values: scales how far a drag moves the window."""
    values = image.modality_values(index)
    return max(float(np.max(values)) - float(np.min(values)), 1.0)


def drag_window(window: Window, dx: float, dy: float, *, span: float, sensitivity: float = 1.0) -> Window:
    """Window after a right-drag of ``dx``, ``dy`` screen pixels.

    Horizontal motion changes the width, vertical the center (dragging down
    lowers it, as in most workstations); 500 pixels of drag cover ``span``.
    """
    step = span / 500.0 * sensitivity
    width = max(1.0, window.width + dx * step)
    center = window.center - dy * step
    return Window(center, width)


def render(
    image: MedicalImage,
    stored: np.ndarray,
    *,
    window: Optional[Window] = None,
    preset: Optional[DisplayPreset] = None,
    invert: bool = False,
) -> np.ndarray:
    """Display uint8 of ``stored`` (a frame of ``image`` or a reduced copy of one).

    Same rules as :meth:`MedicalImage.display`: ``preset`` wins, then
    ``window`` (LINEAR), then the image's default; MONOCHROME1 inverted after
    the VOI; ``invert`` flips once more.
    """
    if image.is_color:
        return color_to_uint8(stored, image.bits_stored, invert)
    if preset is None:
        if window is not None:
            preset = DisplayPreset("Custom", center=window.center, width=window.width)
        else:
            preset = image.default_preset(0)
    return to_display(stored, image.modality_lut, preset, invert=image.is_monochrome1 != invert)


@dataclass(frozen=True)
class PixelReadout:
    row: int
    col: int
    stored: tuple[float, ...]
    modality: Optional[float]

    def text(self) -> str:
        stored = "/".join(f"{v:g}" for v in self.stored)
        if self.modality is None or (len(self.stored) == 1 and self.modality == self.stored[0]):
            return f"({self.col}, {self.row}) value {stored}"
        return f"({self.col}, {self.row}) stored {stored} = {self.modality:g}"


def readout(image: MedicalImage, index: int, row: int, col: int) -> Optional[PixelReadout]:
    """Stored and modality value at (row, col) of frame ``index``; None outside the image."""
    rows, cols = image.shape
    if not (0 <= row < rows and 0 <= col < cols):
        return None
    value = image.frames[index, row, col]
    if image.is_color:
        return PixelReadout(row, col, tuple(float(v) for v in value), None)
    modality = apply_modality_lut(np.asarray([value]), image.modality_lut)
    return PixelReadout(row, col, (float(value),), float(modality[0]))


@dataclass(frozen=True)
class PreparedFrame:
    """Everything a viewport needs to show a frame at once, computed off the GUI thread.

    ``reduced`` holds stored values block-averaged by ``factor`` and ``display``
    its uint8 rendering under ``window`` (or ``preset``); the histogram counts
    modality values of ``reduced`` in ``edges`` bins.
    """

    index: int
    factor: int
    reduced: np.ndarray
    display: np.ndarray
    window: Window
    preset: Optional[DisplayPreset]
    span: float
    counts: np.ndarray
    edges: np.ndarray


def prepare_frame(
    image: MedicalImage,
    index: int = 0,
    *,
    max_side: int = 1200,
    preset: Optional[DisplayPreset] = None,
    window: Optional[Window] = None,
    invert: bool = False,
    bins: int = 256,
) -> PreparedFrame:
    """Reduce, render and histogram frame ``index`` for a viewer.

    Without ``preset`` and ``window`` the image's default preset is used.
    """
    frame = image.frame(index)
    factor = reduction_factor(image.shape, max_side)
    reduced = reduce_stored(frame, factor)
    if preset is None and window is None:
        preset = image.default_preset(index)
    if image.is_color:
        display = color_to_uint8(reduced, image.bits_stored, invert)
        values = display.mean(axis=2)
        win = Window(127.5, 256.0)
    else:
        display = render(image, reduced, window=window, preset=preset, invert=invert)
        values = apply_modality_lut(reduced, image.modality_lut)
        win = window_of(image, preset) if preset is not None else window
    lo, hi = float(np.min(values)), float(np.max(values))
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi if hi > lo else lo + 1.0))
    return PreparedFrame(index, factor, reduced, display, win, preset, max(hi - lo, 1.0), counts, edges)


def thumbnail(path, size: int = 96) -> np.ndarray:
    """A uint8 thumbnail (longer side about ``size``) of the first frame of ``path``.

    Raises :class:`~medvision_app.imaging.ImageOpenError` like ``open_image``.
    """
    from medvision_app.imaging.reader import open_image

    image = open_image(path)
    reduced = reduce_stored(image.frame(0), reduction_factor(image.shape, size))
    if image.is_color:
        return color_to_uint8(reduced, image.bits_stored)
    return render(image, reduced, preset=image.default_preset(0))


def index_files(paths, *, emit=None, cancel=None):
    """A :class:`~medvision_app.imaging.study_index.StudyIndex` of individual files.

    Folders are scanned with ``scan_folder``; files are read header-only. A
    file that cannot be read goes to ``unreadable`` with its reason.
    """
    from pathlib import Path

    from medvision_app.events import Progress, ignore
    from medvision_app.imaging.errors import ImageOpenError
    from medvision_app.imaging.study_index import StudyIndex, UnreadableFile, build_tree, read_header, scan_folder

    emit = emit or ignore
    paths = [Path(p) for p in paths]
    if len(paths) == 1 and paths[0].is_dir():
        return scan_folder(paths[0], emit=emit, cancel=cancel)
    index = StudyIndex(root=paths[0].parent if paths else Path("."))
    records = []
    for done, path in enumerate(paths, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            if path.is_dir():
                sub = scan_folder(path, emit=ignore, cancel=cancel)
                records.extend(sub.instances())
                index.unreadable.extend(sub.unreadable)
            else:
                records.append(read_header(path))
        except ImageOpenError as exc:
            index.unreadable.append(UnreadableFile(path, exc.reason))
        emit(Progress(done, len(paths), path.name))
    index.patients = build_tree(records)
    return index


def display_float_reduced(image: MedicalImage, index: int = 0, *, max_side: int = 2048) -> np.ndarray:
    """The default display of frame ``index`` as float32 in [0, 1], reduced to ``max_side``.

    What the preprocessing and augmentation previews start from: the same
    values as ``image.display_float`` without rendering all of a 12-megapixel
    mammogram first.
    """
    reduced = reduce_stored(image.frame(index), reduction_factor(image.shape, max_side))
    if image.is_color:
        return color_to_uint8(reduced, image.bits_stored).astype(np.float32) / 255.0
    return render(image, reduced, preset=image.default_preset(index)).astype(np.float32) / 255.0
