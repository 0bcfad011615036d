"""The evaluation dashboard: a window on one run or search folder.

Opened from File > Open run..., from the job monitor (``open_dashboard``)
and by ``medvision gui RUN_DIR``. Everything it shows is computed by the
core (``medvision_app.evaluation``) in a worker and drawn with the same
matplotlib code as the evaluation report; the widget only wires them up.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from medvision_app.evaluation.analysis import RunAnalysis, analyse, misclassified
from medvision_app.evaluation.operating_point import operating_point
from medvision_app.evaluation.run_folder import (
    RunFolderError,
    RunResults,
    SearchResults,
    is_run_folder,
    is_search_folder,
    load_run,
    load_search,
)
from medvision_app.evaluation.threshold_store import load_threshold, save_threshold
from medvision_app.gui.dashboard_parts import MistakeGallery, OperatingPointPanel, PerClassTable, PlotCanvas
from medvision_app.gui.workers import start_worker
from medvision_app.reports import figures


def load_folder(folder: Path) -> tuple[Optional[RunResults], Optional[SearchResults]]:
    """(run, search) of a run or search folder; RunFolderError naming the problem otherwise."""
    folder = Path(folder)
    if is_run_folder(folder):
        return load_run(folder), None
    if is_search_folder(folder):
        search = load_search(folder)
        return search.final, search
    return load_run(folder), None  # raises, naming what is missing


class EvaluationDashboard(QWidget):
    """Confusion matrix, ROC/PR with bands, calibration, per-class table, operating point, mistakes,
    training curves, run comparison and (for a search) its tree and Pareto plot."""

    openImageRequested = Signal(object)  # Path of a test image to show in the viewer
    analysed = Signal()

    def __init__(self, folder: str | Path, parent: Optional[QWidget] = None, *, n_resamples: int = 1000) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.n_resamples = n_resamples
        self.run, self.search = load_folder(self.folder)
        self.analysis: Optional[RunAnalysis] = None
        self.others: list[RunResults] = []
        self._cache = Path(tempfile.mkdtemp(prefix="medvision-samples-"))
        self._thumbs: dict[str, Optional[np.ndarray]] = {}
        self._table_timer = QTimer(self)
        self._table_timer.setSingleShot(True)
        self._table_timer.setInterval(400)
        self._table_timer.timeout.connect(self._refresh_table)
        cache = str(self._cache)
        self.destroyed.connect(lambda *_: shutil.rmtree(cache, ignore_errors=True))
        self.setWindowTitle(f"Evaluation: {self.folder.name}")
        self._build()
        self._start()

    # -- layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        self.title = QLabel(f"<b>{self.folder}</b>")
        self.status = QLabel("computing intervals…")
        self.compare_button = QPushButton("Compare with run…")
        self.report_button = QPushButton("Export evaluation report…")
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.status)
        top.addWidget(self.compare_button)
        top.addWidget(self.report_button)
        self.tabs = QTabWidget()
        self.confusion_canvas = PlotCanvas((6.4, 3.0))
        self.table = PerClassTable()
        self.operating = OperatingPointPanel()
        summary = QSplitter(Qt.Orientation.Vertical)
        upper = QWidget()
        upper_layout = QHBoxLayout(upper)
        upper_layout.addWidget(self.confusion_canvas, 3)
        upper_layout.addWidget(self.operating, 2)
        summary.addWidget(upper)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        self.table_caption = QLabel("Per-class metrics of the most probable class, with 95 % bootstrap intervals")
        lower_layout.addWidget(self.table_caption)
        lower_layout.addWidget(self.table)
        summary.addWidget(lower)
        summary.setSizes([560, 220])
        self.curves_canvas = PlotCanvas((8, 3.6))
        self.calibration_canvas = PlotCanvas((5, 4))
        self.history_canvas = PlotCanvas((8, 3.4))
        self.gallery = MistakeGallery()
        self.compare_canvas = PlotCanvas((5, 4))
        self.compare_table = QTableWidget(0, 6)
        self.compare_table.setHorizontalHeaderLabels(["run", "n", "accuracy", "balanced acc.", "AUC", "macro F1"])
        self.compare_tests = QLabel("Add a run evaluated on the same test samples to compare.")
        self.compare_tests.setWordWrap(True)
        self.compare_tests.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        compare = QWidget()
        compare_layout = QVBoxLayout(compare)
        row = QHBoxLayout()
        row.addWidget(self.compare_canvas, 1)
        row.addWidget(self.compare_table, 1)
        compare_layout.addLayout(row, 1)
        compare_layout.addWidget(self.compare_tests)
        if self.run is not None:
            self.tabs.addTab(summary, "Confusion && metrics")
            self.tabs.addTab(self.curves_canvas, "ROC && PR")
            self.tabs.addTab(self.calibration_canvas, "Calibration")
            self.tabs.addTab(self.gallery, "Misclassified")
            self.tabs.addTab(self.history_canvas, "Training curves")
            self.tabs.addTab(compare, "Compare runs")
        if self.search is not None:
            self.search_canvas = PlotCanvas((9, 3.8))
            self.search_label = QLabel()
            self.search_label.setWordWrap(True)
            page = QWidget()
            page_layout = QVBoxLayout(page)
            page_layout.addWidget(self.search_label)
            page_layout.addWidget(self.search_canvas, 1)
            self.tabs.insertTab(0, page, "Search")
            self._draw_search()
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        self.operating.thresholdChanged.connect(self._on_threshold)
        self.operating.saveRequested.connect(self._save_threshold)
        self.gallery.sampleActivated.connect(self._open_sample)
        self.compare_button.clicked.connect(self._compare_dialog)
        self.report_button.clicked.connect(self._report_dialog)
        if self.run is None:
            self.status.setText("no retrained final run in this search folder yet")
            self.compare_button.setEnabled(False)
        binary = self.run is not None and self.run.n_classes == 2
        self.operating.setVisible(binary)
        if binary:
            self.operating.set_class(self.run.classes[0])
            saved = load_threshold(self.run.run_dir)
            self.operating.set_threshold(saved if saved is not None else 0.5)

    # -- computing ----------------------------------------------------------------------------
    def _start(self) -> None:
        if self.run is None:
            return
        self.history_canvas.draw_with(lambda ax: figures.draw_history(ax, self.run.history))
        start_worker(analyse, self.run, n_resamples=self.n_resamples, on_returned=self._on_analysis,
                     on_errored=self._on_error, owner=self)

    def _on_analysis(self, analysis: RunAnalysis) -> None:
        self.analysis = analysis
        run = analysis.run
        self.status.setText(f"{len(run.y_true)} test samples · 95 % intervals from {analysis.n_resamples} "
                            "bootstrap resamples")
        self.table.set_table(analysis.table, run.classes)
        self.curves_canvas.draw_with(lambda axs: (figures.draw_curves(axs[0], analysis.roc, kind="roc"),
                                                  figures.draw_curves(axs[1], analysis.pr, kind="pr")), axes=2)
        self.calibration_canvas.draw_with(lambda ax: figures.draw_reliability(ax, analysis.calibration))
        self._draw_confusion(analysis.confusion)
        if run.n_classes == 2:
            self._on_threshold(self.operating.threshold)
        else:
            self.gallery.set_samples(misclassified(run), self._sample_image)
        self.analysed.emit()

    def _on_error(self, exc: BaseException) -> None:
        self.status.setText(f"error: {exc}")

    def _draw_confusion(self, cm: np.ndarray, note: str = "") -> None:
        classes = self.run.classes
        self.confusion_canvas.draw_with(
            lambda axs: (figures.draw_confusion(axs[0], cm, classes, title="counts" + note),
                         figures.draw_confusion(axs[1], cm, classes, normalised=True)), axes=2)

    # -- operating point ----------------------------------------------------------------------
    def current_point(self):
        return operating_point(self.run.y_true, self.run.probs, self.operating.threshold, positive=0)

    def _on_threshold(self, threshold: float) -> None:
        if self.run is None or self.run.n_classes != 2:
            return
        point = operating_point(self.run.y_true, self.run.probs, threshold, positive=0)
        self.operating.show_point(point)
        self._draw_confusion(point.confusion, f" at threshold {threshold:.2f}")
        if self.analysis is not None:
            self.gallery.set_samples(misclassified(self.run, threshold=threshold, positive=0), self._sample_image)
            self._table_timer.start()

    def _refresh_table(self) -> None:
        """The per-class table at the slider's threshold, once the slider rests (the bootstrap takes a second)."""
        from medvision_app.evaluation.intervals import per_class_table
        from medvision_app.evaluation.operating_point import predict_at

        threshold = self.operating.threshold
        pred = predict_at(self.run.probs, threshold, 0)

        def shown(table: dict) -> None:
            if abs(threshold - self.operating.threshold) < 1e-9:  # a later threshold wins
                self.table.set_table(table, self.run.classes)
                self.table_caption.setText(f"Per-class metrics at threshold {threshold:.2f} on "
                                           f"{self.run.classes[0]}, with 95 % bootstrap intervals")

        start_worker(per_class_table, self.run.y_true, self.run.probs, self.run.classes, pred=pred,
                     n_resamples=self.n_resamples, on_returned=shown, owner=self)

    def _save_threshold(self, threshold: float) -> None:
        try:
            message = save_threshold(self.run.run_dir, threshold, self.run.classes)
        except Exception as exc:  # UserError names the file; anything else is shown too, not swallowed
            message = f"not saved: {exc}"
        self.operating.save_message.setText(message)

    # -- mistakes -----------------------------------------------------------------------------
    def _sample_image(self, record: dict) -> Optional[np.ndarray]:
        # thumbnails are kept: the slider rebuilds the gallery on every step, files are opened once
        if record["id"] not in self._thumbs:
            self._thumbs[record["id"]] = self._load_thumbnail(record)
        return self._thumbs[record["id"]]

    def _load_thumbnail(self, record: dict) -> Optional[np.ndarray]:
        from medvision_app.evaluation.samples import sample_source

        source = sample_source(self.run.config, record["id"])
        if isinstance(source, np.ndarray):
            return source
        if isinstance(source, Path):
            try:
                from medvision_app.imaging import open_image

                image = open_image(source).display(0)
                step = max(1, max(image.shape[:2]) // 128)
                return image[::step, ::step]
            except Exception:  # an unreadable sample is shown without a picture
                return None
        return None

    def sample_path(self, record: dict) -> Optional[Path]:
        """A file the viewer can open for a sample: its own, or a PNG of an array sample."""
        from medvision_app.evaluation.samples import sample_source

        source = sample_source(self.run.config, record["id"])
        if isinstance(source, Path):
            return source
        if isinstance(source, np.ndarray):
            from PIL import Image

            path = self._cache / f"{record['id']}.png"
            if not path.exists():
                Image.fromarray(np.asarray(source, np.uint8)).save(path)
            return path
        return None

    def _open_sample(self, record: dict) -> None:
        path = self.sample_path(record)
        if path is None:
            self.status.setText(f"{record['id']}: the test image is not where the run's data path says")
            return
        self.openImageRequested.emit(path)

    # -- search -------------------------------------------------------------------------------
    def _draw_search(self) -> None:
        summary = self.search.summary
        records = self.search.history or [n for nodes in (summary.get("tree") or {}).values() for n in nodes]
        front = summary.get("pareto_front") or []
        result = summary.get("result") or {}
        self.search_label.setText(f"{summary.get('method', 'search')}: {len(records)} candidates, stopped "
                                  f"({summary.get('stop_reason', '?')}). Chosen architecture: "
                                  f"<code>{result.get('genotype', '?')}</code>")
        self.search_canvas.draw_with(lambda axs: (figures.draw_search_tree(axs[0], records),
                                                  figures.draw_pareto(axs[1], records, front)), axes=2)

    # -- compare ------------------------------------------------------------------------------
    def _compare_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Run folder to compare with", str(self.folder.parent))
        if folder:
            self.add_comparison(Path(folder))

    def add_comparison(self, folder: Path) -> None:
        try:
            run, _ = load_folder(folder)
            if run is None:
                raise RunFolderError(f"{folder}: no evaluated run in it")
        except RunFolderError as exc:
            self.compare_tests.setText(f"error: {exc}")
            return
        self.others.append(run)
        from medvision_app.evaluation.comparison import compare_runs

        start_worker(compare_runs, [self.run, *self.others], n_resamples=self.n_resamples,
                     on_returned=self._on_comparison, on_errored=lambda e: self.compare_tests.setText(f"error: {e}"),
                     owner=self)

    def _on_comparison(self, result: dict) -> None:
        self.comparison = result
        rows = result["rows"]
        self.compare_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [row["run"], str(row["n"])] + [
                "–" if row.get(k) is None else f"{row[k]:.3f}" for k in ("accuracy", "balanced_accuracy", "auc",
                                                                        "macro_f1")]
            for c, text in enumerate(values):
                self.compare_table.setItem(r, c, QTableWidgetItem(text))
        self.compare_table.resizeColumnsToContents()

        def draw(ax):
            for i, curve in enumerate(result["curves"]):
                ax.plot(curve["fpr"], curve["tpr"], color=figures.COLOURS[i % len(figures.COLOURS)],
                        label=curve["run"])
            ax.plot([0, 1], [0, 1], "--", color="#888888", linewidth=0.8)
            ax.set_xlabel("1 - specificity")
            ax.set_ylabel("sensitivity")
            ax.set_title(f"ROC ({result['class']} vs rest)", fontsize=10)
            ax.legend(fontsize=7, loc="lower right")

        self.compare_canvas.draw_with(draw)
        lines = []
        for t in result["tests"]:
            d, b = t["delong"], t["bootstrap"]
            lines.append(f"<b>{t['a']} vs {t['b']}</b> on {t['n']} shared samples: AUC difference "
                         f"{d['difference']:+.3f}; DeLong 95 % CI {d['low']:+.3f} to {d['high']:+.3f}, "
                         f"p = {d['p_value']:.3g}; paired bootstrap CI {b['low']:+.3f} to {b['high']:+.3f}, "
                         f"p = {b['p_value']:.3g}")
        self.compare_tests.setText("<br>".join(lines))

    # -- report -------------------------------------------------------------------------------
    def _report_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export evaluation report", str(self.folder / "evaluation.pdf"),
                                              "PDF (*.pdf)")
        if path:
            self.export_report(Path(path))

    def export_report(self, path: Path) -> None:
        from medvision_app.reports.evaluation_report import write_evaluation_report

        threshold = self.operating.threshold if self.run is not None and self.run.n_classes == 2 else None
        self.status.setText(f"writing {path.name}…")
        start_worker(write_evaluation_report, self.folder, path, n_resamples=self.n_resamples, threshold=threshold,
                     on_returned=lambda p: self.status.setText(f"report written: {p}"),
                     on_errored=lambda e: QMessageBox.warning(self, "Evaluation report", str(e)), owner=self)


def run_model_sha256(run_dir: Path) -> Optional[str]:
    """The graph hash of the run's exported model (``RUN_DIR/model.onnx``), when it exists and verifies."""
    path = Path(run_dir) / "model.onnx"
    if not path.is_file():
        return None
    try:
        from medvision_app.inference import verify_model

        return verify_model(path).card.graph_sha256
    except Exception:  # a damaged export just means no heatmap from it
        return None


def show_in_viewer(window, dashboard: EvaluationDashboard, path: Path) -> None:
    """Open a test image in the main window; when the AI panel's model is this run's exported model
    (same graph hash), analyse it there too, so the viewer shows its heatmap."""
    window.open_paths([path])
    panel = getattr(window, "ai", None)
    entry = panel.selected_entry() if panel is not None and hasattr(panel, "selected_entry") else None
    wanted = run_model_sha256(dashboard.run.run_dir) if dashboard.run is not None else None
    if entry is not None and wanted and getattr(entry.card, "graph_sha256", None) == wanted:
        panel.analyse([path])
        dashboard.status.setText(f"{path.name}: opened in the viewer with this run's heatmap")
    else:
        dashboard.status.setText(f"{path.name}: opened in the viewer; for its heatmap, export the run and choose "
                                 "its model in the AI panel")


def open_dashboard(parent: Optional[QWidget], run_dir: str | Path) -> EvaluationDashboard:
    """Show the dashboard of ``run_dir`` (a run or search folder) in its own window and return it.

    Raises :class:`~medvision_app.evaluation.run_folder.RunFolderError` when the folder cannot be read.
    """
    dashboard = EvaluationDashboard(run_dir, parent)
    dashboard.setWindowFlag(Qt.WindowType.Window, True)
    dashboard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    dashboard.resize(1200, 780)
    if parent is not None and hasattr(parent, "open_paths"):
        dashboard.openImageRequested.connect(lambda path: show_in_viewer(parent, dashboard, Path(path)))
    dashboard.show()
    return dashboard
