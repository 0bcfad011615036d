"""A pyqtgraph ViewBox with workstation mouse bindings.

Left-drag pans, the wheel zooms about the cursor, right-drag adjusts
window/level (reported as screen-pixel deltas; the viewport decides what they
mean). pyqtgraph's own right-drag zoom and context menu are switched off.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal


class WorkstationViewBox(pg.ViewBox):
    windowDragged = Signal(float, float)  # dx, dy in screen pixels since the last event
    windowDragFinished = Signal()
    userZoomed = Signal()  # wheel zoom by the user (linked viewports follow it)

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.setMouseMode(pg.ViewBox.PanMode)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            delta: QPointF = ev.screenPos() - ev.lastScreenPos()
            if not ev.isStart():
                self.windowDragged.emit(float(delta.x()), float(delta.y()))
            if ev.isFinish():
                self.windowDragFinished.emit()
            return
        super().mouseDragEvent(ev, axis)

    def wheelEvent(self, ev, axis=None) -> None:
        super().wheelEvent(ev, axis)
        self.userZoomed.emit()

    def mouseClickEvent(self, ev) -> None:
        # The default right click opens a menu or zooms out; both would fight the W/L drag.
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            return
        super().mouseClickEvent(ev)
