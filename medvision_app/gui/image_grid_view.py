"""Several images side by side in linked pyqtgraph views, each with a title.

Used for the before/after split of the preprocessing panel (1x2, linked pan
and zoom) and the 3x3 grid of augmentation variants.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsSimpleTextItem, QWidget

pg.setConfigOptions(imageAxisOrder="row-major")


class _OutlinedText(QGraphicsSimpleTextItem):
    """Outline first, then the fill on top (Qt strokes over the fill, which dimmed small text)."""

    def paint(self, painter, _option, _widget=None) -> None:
        if not self.text():
            return
        path = QPainterPath()
        metrics = QFontMetricsF(self.font())
        y = metrics.ascent()
        for line in self.text().split("\n"):
            path.addText(0, y, self.font(), line)
            y += metrics.lineSpacing()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.strokePath(path, self.pen())
        painter.fillPath(path, self.brush())


def _title(box: pg.ViewBox) -> QGraphicsSimpleTextItem:
    """A cell's title, drawn over its top-left corner, light with a dark outline.

    Not a row of the layout: a title's text set its column's minimum width, so
    a long "After ..." made its column wider than "Before", and the row took
    height from images that should fill their cells.
    """
    title = _OutlinedText(box)  # a child of the box, not of its view: it stays put when panned
    font = QFont()
    font.setPointSizeF(9)
    title.setFont(font)
    title.setBrush(QBrush(QColor("#eceef1")))
    title.setPen(QPen(QColor(0, 0, 0, 230), 3.0))
    title.setPos(4, 2)
    title.setZValue(1000)
    return title


class ImageGridView(pg.GraphicsLayoutWidget):
    def __init__(self, rows: int, cols: int, *, link: bool = True, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setBackground("k")
        self.ci.setSpacing(4)
        self.ci.setContentsMargins(2, 2, 2, 2)
        self.rows, self.cols = rows, cols
        self._aspect: Optional[float] = None  # width / height the cells follow, when set
        self._linked = link
        self._auto_fit = True  # until the user pans or zooms, a resize fits the images again
        self.boxes: list[pg.ViewBox] = []
        self.items: list[pg.ImageItem] = []
        self.titles: list[QGraphicsSimpleTextItem] = []
        for r in range(rows):
            for c in range(cols):
                box = self.ci.addViewBox(row=r, col=c, lockAspect=True, invertY=True, enableMenu=False)
                box.setDefaultPadding(0.01)
                box.sigRangeChangedManually.connect(self._on_user_range)
                self.ci.layout.setColumnStretchFactor(c, 1)
                item = pg.ImageItem(axisOrder="row-major")
                box.addItem(item)
                if link and self.boxes:
                    box.setXLink(self.boxes[0])
                    box.setYLink(self.boxes[0])
                self.boxes.append(box)
                self.items.append(item)
                self.titles.append(_title(box))

    def set_image(
        self, k: int, array: Optional[np.ndarray], title: str = "", *, autorange: bool = False,
        levels: Optional[tuple[float, float]] = None,
    ) -> None:
        """Show ``array`` in cell ``k`` over ``levels``; by default uint8 over 0..255, floats over their min..max."""
        item = self.items[k]
        if array is None:
            item.clear()
        else:
            if levels is not None:
                pass
            elif array.dtype == np.uint8:
                levels = (0, 255)
            else:
                lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
                levels = (lo, hi if hi > lo else lo + 1.0)
            item.setImage(array, autoLevels=False, levels=levels)
            if autorange:
                self._fit_box(self.boxes[k])
        self.titles[k].setText(title)

    def set_scale(self, k: int, scale: float) -> None:
        """Draw cell ``k``'s image ``scale`` times larger (a reduced preview covers the full-size extent)."""
        from PySide6.QtGui import QTransform

        self.items[k].setTransform(QTransform.fromScale(scale, scale))

    def follow_aspect(self, aspect: Optional[float]) -> None:
        """Make each cell ``aspect`` (width / height) wide, so images of that shape fill their cells.

        The grid's height then follows its width (Qt's height-for-width): a
        portrait mammogram in a wide, short cell was drawn a fifth of the cell's width.
        """
        aspect = float(aspect) if aspect and aspect > 0 else None
        if aspect != self._aspect:
            self._aspect = aspect
            policy = self.sizePolicy()
            policy.setHeightForWidth(aspect is not None)
            self.setSizePolicy(policy)
            self.updateGeometry()

    def hasHeightForWidth(self) -> bool:
        return self._aspect is not None

    def heightForWidth(self, width: int) -> int:
        if self._aspect is None:
            return super().heightForWidth(width)
        spacing, margin = 4, 2
        cell_width = (width - 2 * margin - spacing * (self.cols - 1)) / self.cols
        cell_height = cell_width / self._aspect
        return int(self.rows * cell_height + 2 * margin + spacing * (self.rows - 1))

    def fit(self) -> None:
        self._auto_fit = True
        # Linked cells follow the first one; fitting each would fight over the shared range.
        for box in self.boxes[:1] if self._linked else self.boxes:
            self._fit_box(box)

    def _fit_box(self, box: pg.ViewBox) -> None:
        if self._linked and box is not self.boxes[0]:
            return
        box.autoRange(padding=0.01)

    def _on_user_range(self, *_args) -> None:
        self._auto_fit = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if getattr(self, "_auto_fit", False) and self.boxes:  # pyqtgraph resizes during construction
            # An image fitted before its view was laid out is fitted again at its real size.
            self.fit()

    def images(self) -> Sequence[Optional[np.ndarray]]:
        return [item.image for item in self.items]
