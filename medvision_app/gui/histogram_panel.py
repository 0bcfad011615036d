"""Histogram of the active image with its current window, and the window presets.

Dragging the shaded region or its edges moves the window; the preset list
holds the file's own windows (with their explanations) then the modality's
standard ones.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from medvision_app.gui.image_viewport import ImageViewport
from medvision_app.imaging import DisplayPreset
from medvision_app.imaging.viewing import modality_presets


class HistogramPanel(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.viewport: Optional[ImageViewport] = None
        self.presets: list[DisplayPreset] = []
        self.plot = pg.PlotWidget()
        self.plot.setBackground(None)
        self.plot.setMinimumHeight(140)
        self.plot.hideAxis("left")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        self.curve = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=(91, 155, 213, 90), pen=pg.mkPen("#5b9bd5"))
        self.plot.addItem(self.curve)
        self.region = pg.LinearRegionItem(brush=(242, 209, 107, 40), pen=pg.mkPen("#f2d16b"))
        self.region.sigRegionChanged.connect(self._on_region_dragged)
        self.plot.addItem(self.region)
        self.combo = QComboBox()
        self.combo.setToolTip("Window presets: the file's own, then the modality's")
        self.combo.activated.connect(self._on_preset_chosen)
        self.caption = QLabel()
        self.caption.setObjectName("Caption")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(QLabel("Window presets"))
        layout.addWidget(self.combo)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.caption)
        self._updating = False

    def set_viewport(self, viewport: Optional[ImageViewport]) -> None:
        if self.viewport is not None:
            self.viewport.stateChanged.disconnect(self.refresh)
        self.viewport = viewport
        if viewport is not None:
            viewport.stateChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        vp = self.viewport
        prepared = vp.prepared if vp is not None else None
        if vp is None or prepared is None or vp.image is None:
            self.curve.setData([], [])
            self.combo.clear()
            self.caption.setText("")
            return
        image = vp.image
        self.curve.setData(prepared.edges, np.log1p(prepared.counts))
        own = list(image.presets) or ([vp.default_preset] if vp.default_preset is not None else [])
        presets = ([] if image.is_color else own) + modality_presets(image.metadata.modality)
        if [p.name for p in presets] != [p.name for p in self.presets]:
            self.presets = presets
            self.combo.clear()
            for preset in presets:
                self.combo.addItem(preset.name)
            if not presets:
                self.combo.addItem("(no presets in this file)")
        window = vp.window
        self._updating = True  # moving the region from code must not echo back as a user edit
        try:
            if window is not None and not image.is_color:
                self.region.show()
                self.region.setRegion((window.center - window.width / 2, window.center + window.width / 2))
            else:
                self.region.hide()
        finally:
            self._updating = False
        unit = "HU" if (image.metadata.modality or "").upper() == "CT" else "values"
        self.caption.setText(
            f"{image.metadata.modality or image.format}  range {prepared.edges[0]:g} to {prepared.edges[-1]:g} {unit}"
        )

    def _on_region_dragged(self) -> None:
        if self._updating or self.viewport is None:
            return
        lo, hi = self.region.getRegion()
        self.viewport.set_window((lo + hi) / 2.0, max(1.0, hi - lo), from_user=True)

    def _on_preset_chosen(self, row: int) -> None:
        if self.viewport is not None and 0 <= row < len(self.presets):
            self.viewport.apply_preset(self.presets[row])
