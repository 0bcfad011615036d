"""What a viewport draws over its image: corner text that stays readable, and the window-miss banner."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

OUTLINE = QColor(0, 0, 0, 230)
OUTLINE_WIDTH = 3.0


class OutlinedLabel(QLabel):
    """A label whose text has a dark outline, readable over white tissue as over black background.

    Plain light-grey corner text vanished over bright tissue (the CBIS-DDSM
    RMLO's pectoral muscle). The colour and font still come from the style
    sheet; only the drawing adds the outline.
    """

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        margin = int(OUTLINE_WIDTH + 0.5)
        self.setContentsMargins(margin, margin, margin, margin)

    def paintEvent(self, _event) -> None:
        text = self.text()
        if not text:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = self.fontMetrics()
        area = self.contentsRect()
        path = QPainterPath()
        baseline = area.top() + metrics.ascent()
        right = bool(self.alignment() & Qt.AlignmentFlag.AlignRight)
        for line in text.split("\n"):
            advance = metrics.horizontalAdvance(line)
            x = area.right() + 1 - advance if right else area.left()
            path.addText(x, baseline, self.font(), line)
            baseline += metrics.lineSpacing()
        pen = QPen(OUTLINE, OUTLINE_WIDTH)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.strokePath(path, pen)
        painter.fillPath(path, self.palette().color(self.foregroundRole()))
        painter.end()


class WindowMissBanner(QWidget):
    """Says that the file's own window misses the pixel data, with a one-click full range."""

    fullRangeClicked = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("WindowMissBanner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.message = QLabel()
        self.message.setObjectName("WindowMissText")
        self.message.setWordWrap(True)
        self.button = QPushButton("Show full range")
        self.button.setToolTip("Window over all the pixel values of this image")
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.clicked.connect(self.fullRangeClicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 3, 3)
        layout.addWidget(self.message)
        layout.addWidget(self.button)
        self.setStyleSheet(
            "#WindowMissBanner { background: rgba(20, 20, 20, 210); border: 1px solid #d08a2e; border-radius: 3px; }"
            "#WindowMissText { color: #f2c27b; background: transparent; font-size: 9pt; }"
        )
        self.hide()

    def show_miss(self, data_low: float, data_high: float, window_low: float, window_high: float) -> None:
        self.message.setText(
            f"The file's window ({window_low:.0f} to {window_high:.0f}) misses the pixel data "
            f"({data_low:.0f} to {data_high:.0f}): the image looks blank."
        )
        self.message.setToolTip(self.message.text())
        self.adjustSize()
        self.show()
        self.raise_()
