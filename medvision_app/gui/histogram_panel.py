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

COLOUR_PLACEHOLDER = "Colour image: shown as stored, no window"


def caption(image, low: float, high: float) -> str:
    """The line under the histogram: modality and the range of values, rounded as a reader reads them.

    The histogram of a colour image is of its brightness (the mean of R, G and
    B, 0 to 255): shown as whole numbers, not "36.3333".
    """
    name = image.metadata.modality or image.format
    if image.is_color:
        return f"{name}  colour, brightness {low:.0f} to {high:.0f} of 255"
    unit = "HU" if (image.metadata.modality or "").upper() == "CT" else "values"
    return f"{name}  range {_number(low, high - low)} to {_number(high, high - low)} {unit}"


def _number(value: float, span: float) -> str:
    # Whole numbers where the data span more than a few hundred values (stored
    # integers, block-averaged for the histogram); three significant digits
    # for small floating-point ranges.
    if abs(span) >= 100 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.3g}"


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
        presets = [] if image.is_color else own + modality_presets(image.metadata.modality)
        placeholder = COLOUR_PLACEHOLDER if image.is_color else "(no presets in this file)"
        # Compared with the placeholder too: an empty list after an empty list left the box blank.
        if [p.name for p in presets] != [p.name for p in self.presets] or self.combo.count() == 0 or (
                not presets and self.combo.itemText(0) != placeholder):
            self.presets = presets
            self.combo.clear()
            for preset in presets:
                self.combo.addItem(preset.name)
            if not presets:
                self.combo.addItem(placeholder)
        self.combo.setEnabled(bool(presets))
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
        self.caption.setText(caption(image, prepared.edges[0], prepared.edges[-1]))

    def _on_region_dragged(self) -> None:
        if self._updating or self.viewport is None:
            return
        lo, hi = self.region.getRegion()
        self.viewport.set_window((lo + hi) / 2.0, max(1.0, hi - lo), from_user=True)

    def _on_preset_chosen(self, row: int) -> None:
        if self.viewport is not None and 0 <= row < len(self.presets):
            self.viewport.apply_preset(self.presets[row])
