"""Small widgets of the AI panel: probability bars, overlay controls, the results table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from medvision_app.gui.heatmap_overlay import OverlayStyle

STATUS_TEXT = {"ok": "succeeded", "failed": "failed", "outside_intended_use": "outside intended use"}


def status_text(result) -> str:
    text = STATUS_TEXT.get(result.status, result.status)
    if result.research_override:
        text += " (research override)"
    return text


class ProbabilityBars(QWidget):
    """One bar per class; the reported class in bold."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._rows: list[tuple[QLabel, QProgressBar]] = []

    def set_probabilities(self, probabilities: dict[str, float], predicted: Optional[str]) -> None:
        while len(self._rows) < len(probabilities):
            label, bar = QLabel(), QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            row = len(self._rows)
            self._grid.addWidget(label, row, 0)
            self._grid.addWidget(bar, row, 1)
            self._rows.append((label, bar))
        for k, (label, bar) in enumerate(self._rows):
            visible = k < len(probabilities)
            label.setVisible(visible)
            bar.setVisible(visible)
        for (label, bar), (name, p) in zip(self._rows, probabilities.items(), strict=False):
            label.setText(f"<b>{name}</b>" if name == predicted else name)
            bar.setValue(round(p * 1000))
            bar.setFormat(f"{p:.1%}")

    def values(self) -> dict[str, int]:
        """Bar values per class name (0..1000), for tests."""
        return {label.text().replace("<b>", "").replace("</b>", ""): bar.value()
                for label, bar in self._rows if bar.isVisible()}


class OverlayControls(QWidget):
    """Show/hide, colour map, opacity, threshold and (Soft-Attention) which map."""

    styleChanged = Signal(object)  # OverlayStyle

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        from medvision_app.explanation.overlay import COLORMAPS

        super().__init__(parent)
        style = OverlayStyle()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.show_box = QCheckBox("Show heatmap (H)")
        self.show_box.setChecked(style.visible)
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.setCurrentText(style.colormap)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(style.opacity * 100))
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, 95)
        self.threshold.setValue(round(style.threshold * 100))
        self.map_choice = QComboBox()
        self.map_choice.addItem("Mean of the maps")
        form.addRow(self.show_box)
        form.addRow("Colour map", self.colormap)
        form.addRow("Opacity", self.opacity)
        form.addRow("Threshold", self.threshold)
        form.addRow("Map", self.map_choice)
        self.show_box.toggled.connect(self._emit)
        self.colormap.currentTextChanged.connect(self._emit)
        self.opacity.valueChanged.connect(self._emit)
        self.threshold.valueChanged.connect(self._emit)
        self.map_choice.currentIndexChanged.connect(self._emit)

    def set_map_count(self, k: int) -> None:
        """Offer the mean and each of ``k`` attention maps (0: the mean only)."""
        first = "Mean of the maps" if k else "Class activation map"
        if self.map_choice.count() == k + 1 and self.map_choice.itemText(0) == first:
            return
        current = self.map_choice.currentIndex()
        self.map_choice.blockSignals(True)
        self.map_choice.clear()
        self.map_choice.addItem(first)
        self.map_choice.addItems([f"Attention map {i + 1}" for i in range(k)])
        self.map_choice.setCurrentIndex(current if 0 <= current <= k else 0)
        self.map_choice.blockSignals(False)
        self.map_choice.setEnabled(k > 0)

    def style(self) -> OverlayStyle:
        index = self.map_choice.currentIndex()
        return OverlayStyle(visible=self.show_box.isChecked(), colormap=self.colormap.currentText(),
                            opacity=self.opacity.value() / 100.0, threshold=self.threshold.value() / 100.0,
                            map_index=index - 1 if index > 0 else None)

    def _emit(self, *_args) -> None:
        self.styleChanged.emit(self.style())


class ResultsTable(QTableWidget):
    """One row per analysed image: file (or view), status, top class, probability, score; sortable."""

    openRequested = Signal(object)  # Path
    COLUMNS = ("File", "View", "Status", "Top class", "Probability", "Score")

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSortingEnabled(True)
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.cellDoubleClicked.connect(self._open_row)
        self._first_cells: dict[str, QTableWidgetItem] = {}  # path -> its row's first cell (rows move when sorted)
        self._batch = False

    def begin_batch(self) -> None:
        """Rows arrive one by one: append them unsorted (re-sorting on every row cost O(n log n) each)."""
        self._batch = True
        self.setSortingEnabled(False)

    def end_batch(self) -> None:
        self._batch = False
        self.setSortingEnabled(True)

    def set_results(self, results: Sequence) -> None:
        self.setSortingEnabled(False)
        self.setRowCount(0)
        self._first_cells.clear()
        for result in results:
            self._put(result)
        self.setSortingEnabled(not self._batch)

    def add_result(self, result) -> None:
        sorting = self.isSortingEnabled()
        self.setSortingEnabled(False)
        self._put(result)
        self.setSortingEnabled(sorting)

    def _put(self, result) -> None:
        key = result.path
        row = self.row_of(key)
        if row is None:
            row = self.rowCount()
            self.insertRow(row)
        prob = result.probabilities.get(result.predicted) if result.predicted else None
        cells = [Path(result.path).name, result.view or "", status_text(result), result.predicted or "",
                 prob, result.score]
        for col, value in enumerate(cells):
            item = QTableWidgetItem()
            if isinstance(value, float):
                item.setData(Qt.ItemDataRole.DisplayRole, round(value, 4))
            else:
                item.setText("" if value is None else str(value))
            if col == 0:
                item.setData(Qt.ItemDataRole.UserRole, key)
                item.setToolTip(result.reason or result.path)
                self._first_cells[key] = item
            if col == 2 and result.reason:
                item.setToolTip(result.reason)
            self.setItem(row, col, item)

    def row_of(self, path: str) -> Optional[int]:
        item = self._first_cells.get(path)
        if item is None or item.tableWidget() is not self:
            return None
        return item.row()

    def _open_row(self, row: int, _col: int) -> None:
        item = self.item(row, 0)
        if item is not None:
            self.openRequested.emit(Path(item.data(Qt.ItemDataRole.UserRole)))
