"""A heatmap drawn over one viewport's image.

The overlay is a child item of the viewport's image item, so it inherits
every zoom, pan, rotation and flip the viewport applies, with no bookkeeping
here. Its own transform only stretches the heatmap grid over the image item's
pixels: the heatmap is registered onto the original image's field of view
(the preprocessing's crops and resizes undone by the prediction's geometry)
at a modest resolution, and drawn at the image's size. Opacity is the item's
opacity: dragging the slider redraws without recomputing anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QLabel


@dataclass(frozen=True)
class OverlayStyle:
    """How every overlay is drawn; ``map_index`` None is the mean map, k the k-th attention map."""

    visible: bool = True
    colormap: str = "jet"
    opacity: float = 0.45
    threshold: float = 0.4  # the upper part of the map: where the model looked most, not everywhere it looked
    map_index: Optional[int] = None


class HeatmapOverlay(QObject):
    """The heatmap item (and AI status badge) of one :class:`~medvision_app.gui.image_viewport.ImageViewport`."""

    def __init__(self, viewport) -> None:
        super().__init__(viewport)
        self.viewport = viewport
        self.badge = QLabel(viewport.view)
        self.badge.setObjectName("AiBadge")
        self.badge.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.badge.setStyleSheet("background: rgba(0, 0, 0, 160); color: #f0c040; padding: 2px 4px;")
        self.badge.hide()
        viewport.view.installEventFilter(self)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setParentItem(viewport.item)
        self.item.setZValue(10)
        self.item.setVisible(False)
        self.result = None
        self.frame = 0
        self.style = OverlayStyle()
        self._grid: Optional[np.ndarray] = None  # registered map (rows, cols) in [0, 1]
        self._grid_key = None
        viewport.item.sigImageChanged.connect(self._place)
        viewport.stateChanged.connect(self._follow_frame)

    @property
    def shown(self) -> bool:
        return self.item.isVisible()

    def set_result(self, result, frame: int = 0) -> None:
        """Show ``result``'s heatmap (an ImageResult with ``heatmap``), or nothing for None / no map."""
        self.result, self.frame = result, frame
        self._grid, self._grid_key = None, None
        self._redraw()

    def set_style(self, style: OverlayStyle) -> None:
        old, self.style = self.style, style
        if (old.colormap, old.threshold, old.map_index) == (style.colormap, style.threshold, style.map_index):
            self.item.setOpacity(style.opacity)  # the slider's path: no recolouring
            self._update_visibility()
        else:
            self._redraw()

    def _map(self) -> Optional[np.ndarray]:
        result = self.result
        if result is None or getattr(result, "heatmap", None) is None or result.original_shape is None:
            return None
        index = self.style.map_index
        maps = result.attention_maps
        use = None if index is None or maps is None or not 0 <= index < len(maps) else index
        key = (id(result), use)
        if self._grid_key != key:
            from medvision_app.inference.analysis import grid_shape

            ready = getattr(result, "heatmap_grid", None)
            if use is None and ready is not None:
                self._grid = ready  # registered where the analysis ran
            else:
                self._grid = result.heatmap_on(grid_shape(tuple(result.original_shape)),
                                               None if use is None else maps[use])
            self._grid_key = key
        return self._grid

    def _redraw(self) -> None:
        from medvision_app.explanation.overlay import heatmap_rgba

        heat = self._map()
        if heat is None:
            self.item.clear()
            self.item.setVisible(False)
            return
        self.item.setImage(heatmap_rgba(heat, self.style.colormap, threshold=self.style.threshold),
                           autoLevels=False, levels=(0, 255))
        self.item.setOpacity(self.style.opacity)
        self._place()
        self._update_visibility()

    def _place(self, *_args) -> None:
        base = self.viewport.item.image
        if base is None or self.item.image is None:
            return
        rows, cols = self.item.image.shape[:2]
        # heatmap cell -> pixel of the (possibly reduced) display array the parent item draws
        self.item.setTransform(QTransform.fromScale(base.shape[1] / cols, base.shape[0] / rows))

    def _follow_frame(self) -> None:
        self._update_visibility()

    def set_badge(self, text: str) -> None:
        """The AI status shown on the image (empty: none)."""
        self.badge.setText(f"AI: {text}" if text else "")
        self.badge.adjustSize()
        self.badge.setVisible(bool(text))
        self._place_badge()

    def _place_badge(self) -> None:
        # Bottom centre, one line above the window/level and zoom read-outs: the top corners hold the view labels.
        view = self.viewport.view
        self.badge.move(max(0, (view.width() - self.badge.width()) // 2),
                        max(0, view.height() - self.badge.height() - 30))

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._place_badge()
        return False

    def _update_visibility(self) -> None:
        on_frame = self.viewport.frame_index == self.frame
        image = self.viewport.image
        same_image = (self.result is not None and image is not None
                      and os.path.realpath(str(image.path)) == os.path.realpath(str(self.result.path)))
        self.item.setVisible(bool(self.style.visible and self._grid is not None and on_frame and same_image))
