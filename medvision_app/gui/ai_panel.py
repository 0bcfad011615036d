"""The AI panel (a dock): choose a model, analyse an image, a study or a folder, see results and heatmaps.

Follows the conventions of clinical AI viewers: results sit next to the
study and supplement the reader; each image says whether the AI succeeded,
failed (with the reason) or was outside the model's intended use; scores come
with the model's name, version and provenance; heatmaps show when asked (H);
the statement that this is not a diagnosis is always visible.

The work happens in :mod:`medvision_app.inference.analysis`, in a worker
(onnxruntime is imported there, on the first analysis); this widget gathers
the choices and shows what comes back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medvision_app.gui.ai_widgets import OverlayControls, ProbabilityBars, ResultsTable, status_text
from medvision_app.gui.heatmap_overlay import HeatmapOverlay, OverlayStyle
from medvision_app.gui.workers import start_worker

DISCLAIMER = "Decision support for research use only. Not a diagnosis: every result must be read by a clinician."


_MODELS_AFTER_MS = 2500


def _key(path) -> str:
    return os.path.realpath(str(path))


def _list_models():
    from medvision_app.inference.analysis_pool import warm_up
    from medvision_app.inference.registry import ModelRegistry

    warm_up()  # the helpers start while the models are verified, so the first Analyse does not wait
    return ModelRegistry().list()


def _folder_files(folder: Path) -> list[Path]:
    from medvision_app.imaging.study_index import iter_files

    return sorted(iter_files(Path(folder)))


class AiPanel(QWidget):
    """The AI dock's widget. ``results()`` gives the per-image results (for reports)."""

    openRequested = Signal(object)  # Path: show this image (folder table double click)
    analysisFinished = Signal(object)  # list of ImageResult
    failed = Signal(str, str)  # message, details

    def __init__(self, grid, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("AiPanel")
        self.grid = grid
        self._entries: list = []
        self._results: dict[str, object] = {}  # realpath -> ImageResult, in arrival order
        self._overlays: dict[object, HeatmapOverlay] = {}
        self._worker = None
        self._lookup_pending = False
        self.style_ = OverlayStyle()

        layout = QVBoxLayout(self)
        self.disclaimer = QLabel(DISCLAIMER)
        self.disclaimer.setObjectName("AiDisclaimer")
        self.disclaimer.setWordWrap(True)
        self.disclaimer.setStyleSheet("font-weight: bold; color: #e0a030;")
        layout.addWidget(self.disclaimer)

        model_row = QHBoxLayout()
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Shipped and imported models, with their provenance")
        self.manage_button = QPushButton("Models…")
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.manage_button)
        layout.addLayout(model_row)
        self.model_info = QLabel("Loading the model list…")
        self.model_info.setWordWrap(True)
        layout.addWidget(self.model_info)

        buttons = QHBoxLayout()
        self.analyse_image_button = QPushButton("Analyse image")
        self.analyse_study_button = QPushButton("Analyse study")
        self.analyse_folder_button = QPushButton("Folder…")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        for button in (self.analyse_image_button, self.analyse_study_button, self.analyse_folder_button,
                       self.cancel_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.override_box = QCheckBox("Research override: analyse images outside the intended use")
        layout.addWidget(self.override_box)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        layout.addWidget(self.progress)

        self.current_box = QGroupBox("Current image")
        current = QVBoxLayout(self.current_box)
        self.current_status = QLabel("No result for this image.")
        self.current_status.setWordWrap(True)
        self.bars = ProbabilityBars()
        current.addWidget(self.current_status)
        current.addWidget(self.bars)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setToolTip("The image with its heatmap (double-click a table row to open it in the viewer)")
        current.addWidget(self.preview)
        self._preview_generation = 0
        self._sample_pending = False
        layout.addWidget(self.current_box)

        self.exam_label = QLabel("")
        self.exam_label.setWordWrap(True)
        layout.addWidget(self.exam_label)
        self.table = ResultsTable()
        layout.addWidget(self.table, 1)
        table_buttons = QHBoxLayout()
        self.export_button = QPushButton("Export CSV…")
        self.clear_button = QPushButton("Clear results")
        self.report_button = QPushButton("Export report…")  # the case report PDF (gui/case_report_export.py)
        table_buttons.addWidget(self.export_button)
        table_buttons.addWidget(self.report_button)
        table_buttons.addWidget(self.clear_button)
        layout.addLayout(table_buttons)

        heat_box = QGroupBox("Heatmap")
        heat = QVBoxLayout(heat_box)
        self.overlay_controls = OverlayControls()
        heat.addWidget(self.overlay_controls)
        self.heatmap_note = QLabel("")
        self.heatmap_note.setWordWrap(True)
        heat.addWidget(self.heatmap_note)
        layout.addWidget(heat_box)

        self.toggle_heatmap_action = QAction("Show Heatmap", self)
        self.toggle_heatmap_action.setCheckable(True)
        self.toggle_heatmap_action.setChecked(True)
        self.toggle_heatmap_action.setShortcut(QKeySequence("H"))
        self.toggle_heatmap_action.toggled.connect(self.overlay_controls.show_box.setChecked)
        self.overlay_controls.show_box.toggled.connect(self.toggle_heatmap_action.setChecked)

        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.analyse_image_button.clicked.connect(self.analyse_image)
        self.analyse_study_button.clicked.connect(self.analyse_study)
        self.analyse_folder_button.clicked.connect(self._choose_folder)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self._export_csv_dialog)
        self.report_button.clicked.connect(self._export_report_dialog)
        self.clear_button.clicked.connect(self.clear_results)
        self.table.openRequested.connect(self.openRequested)
        self.table.itemSelectionChanged.connect(self._on_table_selection)
        self.overlay_controls.styleChanged.connect(self.set_overlay_style)
        grid.imageShown.connect(self._on_image_shown)
        grid.activeChanged.connect(lambda _v: self._show_current())
        grid.allShown.connect(self._lookup_cached)
        grid.allShown.connect(self._run_samples_when_ready)
        self._set_running(False)
        # Verifying the registry starts the two analysis helpers, each importing
        # onnxruntime: on two cores that delayed the first image of a study
        # opened at start-up by about half a second. They start once the
        # images are on screen, or after a moment when nothing is opened.
        self._models_requested = False
        grid.allShown.connect(self._request_models_once)
        QTimer.singleShot(_MODELS_AFTER_MS, self._request_models_once)

    def _request_models_once(self) -> None:
        if not self._models_requested:
            self._models_requested = True
            self.refresh_models()

    # -- models -------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        """Re-read the registry (verifying every file) in a worker; start the analysis helpers meanwhile."""
        start_worker(_list_models, on_returned=self.set_entries,
                     on_errored=lambda exc: self.failed.emit("Cannot list the models", str(exc)), owner=self)

    def set_entries(self, entries) -> None:
        from medvision_app.inference.provenance_view import entry_provenance

        previous = self.selected_entry()
        self._entries = list(entries)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for entry in self._entries:
            provenance = entry_provenance(entry)
            if entry.ok:
                where = provenance if provenance == entry.location else f"{entry.location}, {provenance}"
                self.model_combo.addItem(f"{entry.name}  ({where})")
            else:
                self.model_combo.addItem(f"{entry.name}  REFUSED")
                item = self.model_combo.model().item(self.model_combo.count() - 1)
                item.setEnabled(False)
                item.setToolTip(entry.problem)
        choice = next((i for i, e in enumerate(self._entries) if previous is not None and e.path == previous.path
                       and e.ok), next((i for i, e in enumerate(self._entries) if e.ok), -1))
        self.model_combo.setCurrentIndex(choice)
        self.model_combo.blockSignals(False)
        self._on_model_changed()
        self._run_samples_when_ready()

    def selected_entry(self):
        index = self.model_combo.currentIndex()
        if 0 <= index < len(self._entries) and self._entries[index].ok:
            return self._entries[index]
        return None

    def select_model(self, name: str) -> bool:
        for i, entry in enumerate(self._entries):
            if entry.name == name and entry.ok:
                self.model_combo.setCurrentIndex(i)
                return True
        return False

    def _on_model_changed(self, *_args) -> None:
        from medvision_app.inference.provenance_view import entry_provenance

        entry = self.selected_entry()
        if entry is None:
            refused = [e for e in self._entries if not e.ok]
            self.model_info.setText("No usable model." + (f" {len(refused)} refused." if refused else ""))
        else:
            card = entry.card
            use = ", ".join(card.modalities) or "modality not stated"
            self.model_info.setText(
                f"<b>{card.name}</b> v{card.version} · {', '.join(card.classes)}<br>"
                f"Intended use: {use}{' · ' + card.body_part if card.body_part else ''} · "
                f"provenance: {entry_provenance(entry)} · sha256 {card.graph_sha256[:12]}…")
        self._results.clear()
        self._refresh_views()
        self._set_running(False)
        self._lookup_cached()
        if entry is not None:
            from medvision_app.inference.analysis_pool import prepare_model

            start_worker(prepare_model, entry.path, owner=self)  # the helpers load it before the first click

    # -- analysing ---------------------------------------------------------------------------
    def current_paths(self) -> list[Path]:
        image = self.grid.active.image
        return [Path(image.path)] if image is not None and getattr(image, "path", None) else []

    def study_paths(self) -> list[Path]:
        return [Path(path) for _meta, path in self.grid.items]

    def analyse_image(self) -> None:
        self.analyse(self.current_paths())

    def analyse_study(self) -> None:
        self.analyse(self.study_paths())

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Analyse a folder")
        if folder:
            self.analyse_folder(Path(folder))

    def analyse_folder(self, folder: Path) -> None:
        start_worker(_folder_files, folder, on_returned=self.analyse,
                     on_errored=lambda exc: self.failed.emit(f"Cannot read {folder}", str(exc)), owner=self)

    def analyse(self, paths) -> None:
        """Analyse ``paths`` in the background (helper processes); results arrive one by one."""
        from medvision_app.inference.analysis_pool import analyse_in_processes

        entry = self.selected_entry()
        paths = [Path(p) for p in paths]
        if entry is None or not paths or self._worker is not None:
            return
        self.progress.setRange(0, len(paths))
        self.progress.setValue(0)
        self._set_running(True)
        self.table.begin_batch()
        from medvision_app.inference.provenance_view import entry_provenance

        self._worker = start_worker(
            analyse_in_processes, paths, entry.path, research_override=self.override_box.isChecked(),
            provenance=entry_provenance(entry),
            on_yielded=self._on_analysed, on_errored=self._on_error, on_returned=self._on_returned,
            on_finished=lambda: self._set_running(False), owner=self,
        )

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def _set_running(self, running: bool) -> None:
        if not running:
            self._worker = None
            self.table.end_batch()
        usable = self.selected_entry() is not None
        for button in (self.analyse_image_button, self.analyse_study_button, self.analyse_folder_button):
            button.setEnabled(usable and not running)
        self.cancel_button.setEnabled(running)
        self.progress.setVisible(running)

    def _on_analysed(self, event) -> None:
        result = event.result
        self.progress.setValue(event.done)
        self._results[_key(result.path)] = result
        self.table.add_result(result)
        if result.view:
            self._update_exam()
        self._apply_overlays(only=_key(result.path))
        if _key(result.path) in self._shown_keys():
            self._show_current()

    def _on_returned(self, results) -> None:
        self.analysisFinished.emit(list(results))

    def _on_error(self, exc) -> None:
        self.failed.emit("Analysis failed", str(exc))

    # -- cached results ------------------------------------------------------------------------
    def _on_image_shown(self, _path) -> None:
        self._apply_overlays()
        self._show_current()

    def _lookup_cached(self) -> None:
        """Show stored results of the study's images for the chosen model at once."""
        from medvision_app.inference.analysis import cached_results

        entry = self.selected_entry()
        paths = [p for p in self.study_paths() if _key(p) not in self._results]
        if entry is None or not paths or self._lookup_pending:
            return
        self._lookup_pending = True
        sha = entry.card.graph_sha256

        def done(found) -> None:
            self._lookup_pending = False
            current = self.selected_entry()
            if current is None or current.card.graph_sha256 != sha:
                return
            for result in found:
                self._results.setdefault(_key(result.path), result)
            self._refresh_views()

        def failed(exc) -> None:
            self._lookup_pending = False
            self.failed.emit("Cannot read stored AI results", str(exc))

        start_worker(cached_results, paths, sha, on_returned=done, on_errored=failed, owner=self)

    def clear_results(self) -> None:
        """Forget the shown results here and in the results database."""
        from medvision_app.inference.results_store import ResultsStore

        keys = [r.image_key for r in self._results.values() if r.image_key]
        if keys:
            store = ResultsStore()
            store.clear(keys)
            store.close()
        self._results.clear()
        self._refresh_views()

    # -- showing -------------------------------------------------------------------------------
    def results(self) -> list:
        """The per-image results shown now (``ImageResult`` dataclasses), in the order they arrived."""
        return list(self._results.values())

    def result_for(self, path) -> Optional[object]:
        return self._results.get(_key(path))

    def overlay_for(self, viewport) -> HeatmapOverlay:
        overlay = self._overlays.get(viewport)
        if overlay is None:
            overlay = self._overlays[viewport] = HeatmapOverlay(viewport)
            overlay.set_style(self.style_)
        return overlay

    def set_overlay_style(self, style: OverlayStyle) -> None:
        self.style_ = style
        for overlay in self._overlays.values():
            overlay.set_style(style)

    def _shown_keys(self) -> set[str]:
        return {_key(v.image.path) for v in self.grid.visible_viewports() if v.image is not None}

    def _apply_overlays(self, only: Optional[str] = None) -> None:
        for viewport in self.grid.visible_viewports():
            image = viewport.image
            if image is None:
                if viewport in self._overlays:
                    self._overlays[viewport].set_result(None)
                continue
            key = _key(image.path)
            if only is not None and key != only:
                continue
            result = self._results.get(key)
            overlay = self.overlay_for(viewport)
            if overlay.result is not result:
                overlay.set_result(result)
            overlay.set_badge(status_text(result) if result is not None else "")

    def _refresh_views(self) -> None:
        self.table.set_results(list(self._results.values()))
        self._update_exam()
        self._apply_overlays()
        self._show_current()

    def _update_exam(self) -> None:
        from medvision_app.inference.analysis import exam_score

        views = [r for r in self._results.values() if r.view]
        best = exam_score(views)
        if len(views) >= 2 and best is not None:
            self.exam_label.setText(f"<b>Exam score</b> (highest view): {best.score:.3f} "
                                    f"{best.score_class} — {best.view}")
        else:
            self.exam_label.setText("")

    def _on_table_selection(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if len(rows) == 1:
            item = self.table.item(rows.pop(), 0)
            self._show_result(self._results.get(_key(item.data(Qt.ItemDataRole.UserRole))))

    def _show_current(self) -> None:
        image = self.grid.active.image
        self._show_result(self._results.get(_key(image.path)) if image is not None else None)

    def _show_result(self, result) -> None:
        if result is None:
            self.current_status.setText("No result for this image.")
            self.bars.set_probabilities({}, None)
            self.heatmap_note.setText("")
            self._preview_generation += 1
            self.preview.clear()
            return
        head = f"<b>{status_text(result)}</b>"
        if result.view:
            head += f" · {result.view}"
        if result.predicted:
            head += f" · <b>{result.predicted}</b> ({result.probabilities[result.predicted]:.1%})"
        if result.reason:
            head += f"<br>{result.reason}"
        head += f"<br><small>{result.model} · {result.provenance}{' · cached' if result.cached else ''}</small>"
        self.current_status.setText(head)
        self.bars.set_probabilities(result.probabilities, result.predicted)
        self._render_preview(result)
        maps = result.attention_maps
        self.overlay_controls.set_map_count(len(maps) if maps is not None else 0)
        if result.analysed and result.heatmap is None:
            self.heatmap_note.setText(f"No heatmap: {result.heatmap_note}")
        else:
            self.heatmap_note.setText(result.heatmap_kind and f"Heatmap: {result.heatmap_kind}" or "")

    def _export_report_dialog(self) -> None:
        from medvision_app.gui.case_report_export import export_case_report

        entry = self.selected_entry()
        export_case_report(self, [Path(r.path) for r in self.results()], entry.path if entry else None,
                           on_done=lambda p: self.exam_label.setText(f"Case report written: {p}"),
                           on_error=lambda exc: self.failed.emit("Cannot write the case report", str(exc)))

    def _render_preview(self, result) -> None:
        """The selected result's image with its heatmap, drawn small in a worker (latest request wins)."""
        from medvision_app.inference.analysis_pool import preview_in_helper

        self._preview_generation += 1
        generation = self._preview_generation
        if result.status == "failed":
            self.preview.clear()
            return

        def show(rgb) -> None:
            from medvision_app.gui.study_browser import to_qimage

            if generation == self._preview_generation:
                self.preview.setPixmap(QPixmap.fromImage(to_qimage(rgb)))

        start_worker(preview_in_helper, result, on_returned=show, on_errored=lambda _exc: self.preview.clear(), owner=self)

    # -- first run ---------------------------------------------------------------------------
    def show_sample_predictions(self) -> None:
        """First run: analyse the sample study and the shipped ultrasound samples, then show an ultrasound result.

        Waits for the model list and the study, whichever comes last.
        """
        self._sample_pending = True
        self._run_samples_when_ready()

    def _run_samples_when_ready(self) -> None:
        from medvision_app.samples import SampleUnavailable, sample_folder

        if not self._sample_pending or self.selected_entry() is None or self.busy:
            return
        if self.grid.is_loading() or not self.grid.items:
            return
        self._sample_pending = False
        try:
            ultrasound = sorted(sample_folder("busi").glob("*.png"))
        except SampleUnavailable:
            ultrasound = []
        first = ultrasound[0] if ultrasound else None

        def select_first(_results) -> None:
            row = self.table.row_of(str(first)) if first is not None else None
            if row is not None:
                self.table.selectRow(row)

        self.analysisFinished.connect(select_first, Qt.ConnectionType.SingleShotConnection)
        self.analyse(self.study_paths() + ultrasound)

    def _export_csv_dialog(self) -> None:
        if not self._results:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export results", "ai-results.csv", "CSV (*.csv)")
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> Path:
        from medvision_app.inference.analysis import results_csv
        from medvision_app.utils.atomic import atomic_write_text

        try:
            atomic_write_text(Path(path), results_csv(self.results()))
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"{path}: {exc.strerror or exc}")
        return Path(path)
