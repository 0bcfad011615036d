"""Several images side by side in linked pyqtgraph views, each with a title.

Used for the before/after split of the preprocessing panel (1x2, linked pan
and zoom) and the 3x3 grid of augmentation variants.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

pg.setConfigOptions(imageAxisOrder="row-major")


class ImageGridView(pg.GraphicsLayoutWidget):
    def __init__(self, rows: int, cols: int, *, link: bool = True, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setBackground("k")
        self.ci.setSpacing(4)
        self.boxes: list[pg.ViewBox] = []
        self.items: list[pg.ImageItem] = []
        self.titles: list[pg.LabelItem] = []
        for r in range(rows):
            for c in range(cols):
                cell = self.ci.addLayout(row=r, col=c)
                title = cell.addLabel("", row=0, col=0, color="#c8ccd2", size="9pt")
                box = cell.addViewBox(row=1, col=0, lockAspect=True, invertY=True, enableMenu=False)
                item = pg.ImageItem(axisOrder="row-major")
                box.addItem(item)
                if link and self.boxes:
                    box.setXLink(self.boxes[0])
                    box.setYLink(self.boxes[0])
                self.boxes.append(box)
                self.items.append(item)
                self.titles.append(title)

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
                self.boxes[k].autoRange(padding=0.01)
        self.titles[k].setText(title)

    def set_scale(self, k: int, scale: float) -> None:
        """Draw cell ``k``'s image ``scale`` times larger (a reduced preview covers the full-size extent)."""
        from PySide6.QtGui import QTransform

        self.items[k].setTransform(QTransform.fromScale(scale, scale))

    def fit(self) -> None:
        for box in self.boxes:
            box.autoRange(padding=0.01)

    def images(self) -> Sequence[Optional[np.ndarray]]:
        return [item.image for item in self.items]
