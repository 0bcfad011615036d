"""Preprocessing panel: build a pipeline from the op registry and watch it work.

Before | after views of the current image follow every edit: while a slider
is dragged the pipeline runs on a reduced copy (at most ``DRAG_SIDE`` pixels
a side); when the user lets go it runs on the panel's full-resolution source
(at most ``FULL_SIDE`` pixels a side). All computation is in a background
thread (``PreviewEngine``); the widget only gathers parameters and shows what
``apply_pipeline`` returns.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from medvision_app.gui.image_grid_view import ImageGridView
from medvision_app.gui.param_controls import ParamForm
from medvision_app.gui.preview_engine import PreviewEngine
from medvision_app.gui.theme import set_icon
from medvision_app.imaging.viewing import reduce_stored, reduction_factor
from medvision_app.preprocessing import OPS, PipelineConfig, StepConfig, apply_pipeline, get_op
from medvision_app.utils.config_io import ConfigError, load_config, save_config

DRAG_SIDE = 512
FULL_SIDE = 2048
STEP_LIST_HEIGHT = 84  # about four steps; the buttons beside it are as tall
VIEW_MIN_HEIGHT = 230  # before | after below this are thumbnails, not previews


@dataclass(frozen=True)
class PreviewSource:
    """The panel's input at full preview resolution and reduced for dragging, with its uint8 view."""

    full: np.ndarray
    reduced: np.ndarray
    factor: int
    display: np.ndarray


@dataclass(frozen=True)
class PreviewResult:
    array: np.ndarray  # the pipeline's output
    display: np.ndarray  # uint8 over the output's own min..max, for the screen
    low: float
    high: float


def prepare_source(image: np.ndarray) -> PreviewSource:
    """Reduce ``image`` for the panel (worker side): at most FULL_SIDE, and DRAG_SIDE while dragging."""
    full = reduce_stored(image, reduction_factor(image.shape, FULL_SIDE))
    factor = reduction_factor(full.shape, DRAG_SIDE)
    return PreviewSource(full, reduce_stored(full, factor), factor, to_uint8(full))


def to_uint8(array: np.ndarray) -> np.ndarray:
    """``array`` linearly from its own min..max to uint8, computed where the data are (a worker)."""
    lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return np.clip((array - lo) * scale + 0.5, 0, 255).astype(np.uint8)


def _run(source: np.ndarray, config: PipelineConfig) -> PreviewResult:
    out = apply_pipeline(source, config)[0]
    return PreviewResult(out, to_uint8(out), float(np.nanmin(out)), float(np.nanmax(out)))


class PreprocessingPanel(QWidget):
    previewShown = Signal(str)  # "reduced" or "full"
    failed = Signal(str, str)  # message, details

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.config = PipelineConfig(steps=[StepConfig("contrast_stretch")])
        self.source: Optional[np.ndarray] = None
        self.reduced: Optional[np.ndarray] = None
        self.factor = 1
        self.engine = PreviewEngine(self)
        self.engine.resultReady.connect(self._on_result)
        self.engine.failed.connect(self._on_failed)

        self.op_combo = QComboBox()
        self.op_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.op_combo.setMinimumContentsLength(12)
        for name, spec in OPS.items():
            self.op_combo.addItem(spec.title, name)
        add = QPushButton("Add")
        add.clicked.connect(lambda: self.add_step(self.op_combo.currentData()))
        self.steps = QListWidget()
        self.steps.setFixedHeight(STEP_LIST_HEIGHT)
        self.steps.currentRowChanged.connect(self._show_params)
        remove, up, down = QPushButton("Remove"), QPushButton("Up"), QPushButton("Down")
        remove.clicked.connect(self.remove_step)
        up.clicked.connect(lambda: self.move_step(-1))
        down.clicked.connect(lambda: self.move_step(1))
        # Icon-only: with text, the row made the panel wider than a laptop's dock column.
        save, load = QToolButton(), QToolButton()
        for button, name, tip in ((save, "save", "Save the pipeline…"), (load, "open-file", "Load a pipeline…")):
            set_icon(button, name)
            button.setToolTip(tip)
            button.setAutoRaise(True)
        save.clicked.connect(self._save_dialog)
        load.clicked.connect(self._load_dialog)
        self.params_holder = QVBoxLayout()
        self.description = QLabel()
        self.description.setObjectName("Caption")
        self.description.setWordWrap(True)
        self.status = QLabel("Open an image to preview the pipeline.")
        self.status.setObjectName("Caption")
        self.view = ImageGridView(1, 2)
        self.view.setMinimumHeight(VIEW_MIN_HEIGHT)

        # No splitter: the step list is short and fixed, the selected step's
        # parameters always show in full below it, and before | after takes the
        # rest but never less than VIEW_MIN_HEIGHT. (A splitter hid the
        # parameters until dragged and, once dragged, shrank the images to
        # thumbnails.) A dock shorter than all that scrolls the whole panel.
        row = QHBoxLayout()
        row.addWidget(self.op_combo, 1)
        row.addWidget(add)
        row.addWidget(load)
        row.addWidget(save)
        buttons = QVBoxLayout()
        for b in (remove, up, down):
            buttons.addWidget(b)
        buttons.addStretch(1)
        steps_row = QHBoxLayout()
        steps_row.addWidget(self.steps, 1)
        steps_row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addLayout(steps_row)
        layout.addWidget(self.description)
        layout.addLayout(self.params_holder)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        self._form: Optional[ParamForm] = None
        self._fit_pending = False
        self._after: Optional[np.ndarray] = None
        self._refresh_steps()

    # -- source ------------------------------------------------------------------------
    def set_source(self, image: Optional[np.ndarray]) -> None:
        """The image to preview on (float in [0, 1], as ``MedicalImage.display_float``).

        Reduces on this thread; the main window calls :meth:`set_prepared_source`
        with :func:`prepare_source` run in a worker instead.
        """
        self.set_prepared_source(None if image is None else prepare_source(image))

    def set_prepared_source(self, prepared: Optional[PreviewSource]) -> None:
        if prepared is None:
            self.source = self.reduced = None
            self.view.set_image(0, None)
            self.view.set_image(1, None)
            return
        self.source, self.reduced, self.factor = prepared.full, prepared.reduced, prepared.factor
        h, w = self.source.shape[:2]
        self.view.set_image(0, prepared.display, f"Before  {w}x{h}", autorange=True)
        self._fit_pending = True
        self.update_preview(final=True)

    # -- steps -----------------------------------------------------------------------
    def add_step(self, op: str) -> None:
        self._set_steps(self.config.steps + [StepConfig(op)], select=len(self.config.steps))

    def remove_step(self) -> None:
        row = self.steps.currentRow()
        if 0 <= row < len(self.config.steps):
            steps = list(self.config.steps)
            del steps[row]
            self._set_steps(steps, select=min(row, len(steps) - 1))

    def move_step(self, offset: int) -> None:
        row = self.steps.currentRow()
        target = row + offset
        if 0 <= row < len(self.config.steps) and 0 <= target < len(self.config.steps):
            steps = list(self.config.steps)
            steps[row], steps[target] = steps[target], steps[row]
            self._set_steps(steps, select=target)

    def set_param(self, row: int, name: str, value: Any, *, final: bool = True) -> None:
        steps = copy.deepcopy(self.config.steps)
        steps[row].params[name] = value
        self._set_steps(steps, select=row, rebuild_form=False, final=final)

    def _set_steps(self, steps, *, select: int, rebuild_form: bool = True, final: bool = True) -> None:
        try:
            config = PipelineConfig(steps=steps, description=self.config.description)
        except ConfigError as exc:
            self.status.setText(f"Not applied: {exc}")
            return
        self.config = config
        if rebuild_form:
            self._refresh_steps(select)
        self.update_preview(final=final)

    def _refresh_steps(self, select: int = 0) -> None:
        self.steps.blockSignals(True)
        self.steps.clear()
        for k, step in enumerate(self.config.steps, 1):
            self.steps.addItem(f"{k}. {get_op(step.op).title}")
        self.steps.blockSignals(False)
        if self.config.steps:
            self.steps.setCurrentRow(max(0, select))
        self._show_params(self.steps.currentRow())

    def _show_params(self, row: int) -> None:
        if self._form is not None:
            self._form.setParent(None)
            self._form.deleteLater()
            self._form = None
        if not 0 <= row < len(self.config.steps):
            self.description.setText("")
            return
        step = self.config.steps[row]
        spec = get_op(step.op)
        self.description.setText(spec.description)
        self._form = ParamForm(spec.params, spec.resolve(step.params))
        self._form.changed.connect(lambda name, value, final, r=row: self.set_param(r, name, value, final=final))
        self.params_holder.addWidget(self._form)

    # -- preview -------------------------------------------------------------------------
    def update_preview(self, *, final: bool) -> None:
        if self.source is None:
            return
        config = copy.deepcopy(self.config)
        if final:
            self.engine.request("full", _run, self.source, config)
        else:
            self.engine.request("reduced", _run, self.reduced, config)

    def _on_result(self, tag: str, result: PreviewResult) -> None:
        geometric = any(get_op(s.op).changes_geometry for s in self.config.steps)
        h, w = result.array.shape[:2]
        label = "After" if tag == "full" else "After (preview while dragging)"
        self.view.set_image(1, result.display, f"{label}  {w}x{h}  [{result.low:.3g}, {result.high:.3g}]")
        self.view.set_scale(1, self.factor if tag == "reduced" and not geometric else 1.0)
        self._after = result.array
        self.status.setText(f"{len(self.config.steps)} step(s) applied")
        if tag == "full" and self._fit_pending:
            self._fit_pending = False
            self.view.fit()
        self.previewShown.emit(tag)

    def _on_failed(self, _tag: str, exc: BaseException) -> None:
        self.status.setText(f"Not applied: {exc}")
        self.failed.emit("The preprocessing preview failed", str(exc))

    def after_image(self) -> Optional[np.ndarray]:
        """The pipeline output now previewed (not its uint8 screen rendering)."""
        return self._after

    # -- files ------------------------------------------------------------------------------
    def save_to(self, path: Path) -> None:
        save_config(self.config, Path(path))

    def load_from(self, path: Path) -> None:
        """Load a pipeline; raises ConfigError (shown by the caller) when the file is invalid."""
        self.config = load_config(PipelineConfig, Path(path))
        self._refresh_steps(0)
        self.update_preview(final=True)

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save pipeline", "pipeline.toml", "Pipeline (*.toml *.json)")
        if path:
            self.save_to(Path(path))

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load pipeline", "", "Pipeline (*.toml *.json)")
        if path:
            try:
                self.load_from(Path(path))
            except (ConfigError, OSError) as exc:
                self.failed.emit("The pipeline file could not be loaded", str(exc))
