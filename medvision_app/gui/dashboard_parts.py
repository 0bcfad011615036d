"""Small widgets of the evaluation dashboard: a matplotlib canvas, the per-class table, the
operating-point slider and the gallery of mistakes. They draw what the core computed; no metric is
computed here."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medvision_app.evaluation.operating_point import OperatingPoint


class PlotCanvas(FigureCanvasQTAgg):
    """A matplotlib figure in the window; ``draw_with(fn, axes=n)`` redraws it with the report's drawing code."""

    def __init__(self, size=(6.0, 3.6), parent: Optional[QWidget] = None) -> None:
        super().__init__(Figure(figsize=size, dpi=90))
        self.setParent(parent)
        self.setMinimumSize(320, 240)

    def draw_with(self, draw: Callable, *, axes: int = 1) -> None:
        self.figure.clear()
        if axes == 1:
            draw(self.figure.add_subplot(1, 1, 1))
        else:
            draw([self.figure.add_subplot(1, axes, i + 1) for i in range(axes)])
        self.figure.tight_layout()
        self.draw_idle()


def _cell(cell: dict) -> str:
    if cell.get("value") is None:
        return "–"
    if cell.get("low") is None:
        return f"{cell['value']:.3f}"
    return f"{cell['value']:.3f} ({cell['low']:.3f}–{cell['high']:.3f})"


class PerClassTable(QTableWidget):
    COLUMNS = ("n", "sensitivity", "specificity", "ppv", "npv", "f1", "auc")
    HEADERS = ("n", "Sensitivity", "Specificity", "PPV", "NPV", "F1", "AUC")

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(self.HEADERS))
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setToolTip("95 % bootstrap intervals in brackets")

    def set_table(self, table: dict, classes: Sequence[str]) -> None:
        self.setRowCount(len(classes))
        self.setVerticalHeaderLabels(list(classes))
        for r, name in enumerate(classes):
            row = table[name]
            for c, key in enumerate(self.COLUMNS):
                text = str(row["support"]) if key == "n" else _cell(row[key])
                self.setItem(r, c, QTableWidgetItem(text))
        self.resizeColumnsToContents()


class OperatingPointPanel(QGroupBox):
    """Threshold slider (0.00-1.00) on the first class's probability, with the rates it gives."""

    thresholdChanged = Signal(float)
    saveRequested = Signal(float)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__("Operating point", parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(50)
        self.value_label = QLabel("0.50")
        self.rates = QLabel()
        self.rates.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.save_button = QPushButton("Save threshold to model card")
        self.save_message = QLabel()
        self.save_message.setWordWrap(True)
        self.rule = QLabel()
        layout = QGridLayout(self)
        layout.addWidget(self.rule, 0, 0, 1, 3)
        layout.addWidget(QLabel("Threshold"), 1, 0)
        layout.addWidget(self.slider, 1, 1)
        layout.addWidget(self.value_label, 1, 2)
        layout.addWidget(self.rates, 2, 0, 1, 3)
        layout.addWidget(self.save_button, 3, 0, 1, 3)
        layout.addWidget(self.save_message, 4, 0, 1, 3)
        self.slider.valueChanged.connect(lambda v: self.thresholdChanged.emit(v / 100.0))
        self.save_button.clicked.connect(lambda: self.saveRequested.emit(self.threshold))

    @property
    def threshold(self) -> float:
        return self.slider.value() / 100.0

    def set_threshold(self, value: float) -> None:
        self.slider.setValue(int(round(value * 100)))

    def set_class(self, name: str) -> None:
        self.rule.setText(f"Report <b>{name}</b> when its probability is at or above the threshold")

    def show_point(self, point: OperatingPoint) -> None:
        self.value_label.setText(f"{point.threshold:.2f}")
        self.rates.setText(f"sensitivity {point.sensitivity:.3f}   specificity {point.specificity:.3f}   "
                           f"PPV {point.ppv:.3f}   NPV {point.npv:.3f}")


def _icon(image: np.ndarray, side: int = 96) -> QIcon:
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr.astype(np.float32) / max(1.0, float(arr.max())) * 255, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    arr = np.ascontiguousarray(arr[..., :3])
    h, w = arr.shape[:2]
    qimage = QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QIcon(QPixmap.fromImage(qimage).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                                  Qt.TransformationMode.SmoothTransformation))


class MistakeGallery(QWidget):
    """Misclassified test samples, most confident first; activating one emits its record."""

    sampleActivated = Signal(object)  # dict from evaluation.analysis.misclassified

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(96, 96))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setSpacing(6)
        self.list.setWordWrap(True)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        self.list.itemClicked.connect(lambda item: self.sampleActivated.emit(item.data(Qt.ItemDataRole.UserRole)))

    def set_samples(self, records: list[dict], image_for: Callable[[dict], Optional[np.ndarray]],
                    limit: int = 200) -> None:
        self.list.clear()
        shown = records[:limit]
        self.summary.setText(f"{len(records)} misclassified test samples, most confident first"
                             + (f" (first {limit} shown)" if len(records) > limit else "")
                             + ". Click one to open it in the viewer.")
        for record in shown:
            item = QListWidgetItem(f"{record['true']} → {record['predicted']}\n{record['confidence']:.2f}")
            item.setToolTip(f"{record['id']}: true {record['true']}, predicted {record['predicted']} "
                            f"with probability {record['confidence']:.3f}")
            image = image_for(record)
            if image is not None:
                item.setIcon(_icon(image))
            item.setData(Qt.ItemDataRole.UserRole, record)
            self.list.addItem(item)
