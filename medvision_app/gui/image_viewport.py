"""One image viewport: pyqtgraph ImageItem, workstation mouse, overlay labels.

The viewport shows a :class:`~medvision_app.imaging.viewing.PreparedFrame`
(a reduced display image computed off the GUI thread). While the user drags
the window it re-renders the reduced image (a few milliseconds); when the zoom
shows more detail than the reduced image holds it asks a worker for the full
resolution and swaps it in when it arrives, so the event loop never waits on
a 12-megapixel conversion.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from medvision_app.gui.viewbox import WorkstationViewBox
from medvision_app.gui.viewport_overlays import OutlinedLabel, WindowMissBanner
from medvision_app.gui.workers import start_worker
from medvision_app.imaging import DisplayPreset, MedicalImage
from medvision_app.imaging.display import full_range_preset
from medvision_app.imaging.hanging import needs_flip, view_of
from medvision_app.imaging.viewing import (
    PreparedFrame,
    Window,
    drag_window,
    prepare_frame,
    readout,
    render,
    window_of,
)
from medvision_app.imaging.window_check import WindowCoverage, window_coverage

pg.setConfigOptions(imageAxisOrder="row-major")


class ImageViewport(QWidget):
    windowEdited = Signal(float, float)  # center, width: set by the user here
    zoomEdited = Signal(float)  # screen pixels per image pixel, set by the user here
    cursorMoved = Signal(str)  # pixel read-out text ("" when off the image)
    stateChanged = Signal()  # window, zoom, frame or image changed: refresh the status bar
    activated = Signal()
    failed = Signal(object)  # exception from a background render

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setObjectName("ViewerCell")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.image: Optional[MedicalImage] = None
        self.prepared: Optional[PreparedFrame] = None
        self.window: Optional[Window] = None
        self.preset: Optional[DisplayPreset] = None
        self.invert = False
        self.rotation = 0  # quarter turns clockwise
        self.user_flip_h = False
        self.user_flip_v = False
        self.auto_flip_h = False  # hanging protocol: chest wall towards the middle
        self.label = ""
        self.default_preset: Optional[DisplayPreset] = None
        self._full_shown = False
        self._scale = (1.0, 1.0)  # image pixels per display-array pixel
        self._generation = 0
        self._dragging = False
        self._wanted_frame: Optional[int] = None
        self._frame_busy = False

        self.view = pg.GraphicsView()
        self.view.setBackground("k")
        self.box = WorkstationViewBox()
        self.view.setCentralItem(self.box)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.addWidget(self.view)

        self._labels = {corner: self._overlay(corner) for corner in ("tl", "tr", "bl", "br")}
        self._labels["tl"].setObjectName("ViewportLabel")
        self.window_banner = WindowMissBanner(self.view)
        self.window_banner.fullRangeClicked.connect(self.show_full_range)

        self.box.windowDragged.connect(self._on_window_drag)
        self.box.windowDragFinished.connect(self._on_window_drag_finished)
        self.box.userZoomed.connect(lambda: self.zoomEdited.emit(self.zoom()))
        self.box.sigRangeChanged.connect(self._on_range_changed)
        self.view.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # -- content ---------------------------------------------------------------------------
    def set_prepared(
        self, image: MedicalImage, prepared: PreparedFrame, *, label: str = "", chest_wall: Optional[str] = None
    ) -> None:
        """Show ``prepared`` (a frame of ``image``); ``chest_wall`` mirrors it for a hanging protocol."""
        self._generation += 1
        self.image, self.prepared = image, prepared
        self.window, self.preset = prepared.window, prepared.preset
        # The default preset as computed in the worker: recomputing it here
        # would scan all pixels of a 12-megapixel image on the GUI thread.
        self.default_preset = prepared.preset
        lat, view = view_of(image.metadata, image.path)
        self.label = label or " ".join(x for x in (lat, view) if x)
        self.auto_flip_h = needs_flip(prepared.display, chest_wall) if chest_wall else False
        self._full_shown = prepared.factor == 1
        self._show(prepared.display, prepared.factor)
        self._apply_orientation()
        self.fit()
        self._update_labels()
        self.stateChanged.emit()

    def clear(self) -> None:
        self._generation += 1
        self.image = self.prepared = None
        self.item.clear()
        self.label = ""
        self._update_labels()
        self.stateChanged.emit()

    @property
    def frame_index(self) -> int:
        return self.prepared.index if self.prepared else 0

    def set_frame(self, index: int) -> None:
        """Show frame ``index`` of the current image under the current window.

        A compressed frame can take longer to decode than the event loop may
        wait, so it is prepared in a worker. While one is in flight only the
        latest requested index is remembered: a dragged slider skips the
        frames it passed instead of queueing them all.
        """
        if self.image is None or not 0 <= index < self.image.n_frames:
            return
        self._wanted_frame = index
        if not self._frame_busy:
            self._prepare_wanted_frame()

    def _prepare_wanted_frame(self) -> None:
        image, index = self.image, self._wanted_frame
        self._wanted_frame, self._frame_busy = None, True
        shown_with = (self.window, self.preset, self.invert)

        def next_or_idle() -> None:
            self._frame_busy = False
            if self._wanted_frame is not None and self.image is not None:
                self._prepare_wanted_frame()

        def done(prepared: PreparedFrame) -> None:
            if self.image is image:
                self.prepared = prepared
                self._full_shown = prepared.factor == 1
                self._show(prepared.display, prepared.factor)
                self._update_labels()
                self.stateChanged.emit()
                if (self.window, self.preset, self.invert) != shown_with:
                    self._rerender(full=True)  # the window changed while the frame was decoding

        # on_finished, not after each outcome: a cancelled preparation must free the slider too
        start_worker(
            prepare_frame, image, index, preset=self.preset, window=None if self.preset else self.window,
            invert=self.invert, on_returned=done, on_errored=self.failed.emit, on_finished=next_or_idle, owner=self,
        )

    # -- window / level ---------------------------------------------------------------------
    def set_window(self, center: float, width: float, *, from_user: bool = False) -> None:
        if self.image is None or self.image.is_color:
            return
        self.window, self.preset = Window(float(center), max(1.0, float(width))), None
        self._rerender(full=not self._dragging)
        if from_user:
            self.windowEdited.emit(self.window.center, self.window.width)

    def apply_preset(self, preset: DisplayPreset) -> None:
        if self.image is None or self.image.is_color:
            return
        self.preset, self.window = preset, window_of(self.image, preset)
        self._rerender(full=True)
        self.windowEdited.emit(self.window.center, self.window.width)

    def set_invert(self, invert: bool) -> None:
        self.invert = bool(invert)
        self._rerender(full=True)

    def _on_window_drag(self, dx: float, dy: float) -> None:
        if self.image is None or self.window is None or self.prepared is None:
            return
        self._dragging = True
        new = drag_window(self.window, dx, dy, span=self.prepared.span)
        self.set_window(new.center, new.width, from_user=True)

    def _on_window_drag_finished(self) -> None:
        self._dragging = False
        if self.image is not None:
            self._rerender(full=True)

    def _rerender(self, *, full: bool) -> None:
        """Reduced image now, on this thread; the full resolution later, from a worker, if the zoom needs it."""
        if self.image is None or self.prepared is None:
            return
        self._generation += 1
        reduced = render(self.image, self.prepared.reduced, window=self.window, preset=self.preset, invert=self.invert)
        self._full_shown = self.prepared.factor == 1
        self._show(reduced, self.prepared.factor)
        self._update_labels()
        self.stateChanged.emit()
        if full and self._wants_full():
            self._request_full()

    def _wants_full(self) -> bool:
        return self.prepared is not None and not self._full_shown and self.zoom() * self.prepared.factor > 1.05

    def _request_full(self) -> None:
        image, generation = self.image, self._generation
        index, window, preset, invert = self.frame_index, self.window, self.preset, self.invert

        def done(display: np.ndarray) -> None:
            if generation == self._generation and self.image is image:
                self._full_shown = True
                self._show(display, 1)

        start_worker(
            render, image, image.frame(index), window=window, preset=preset, invert=invert,
            on_returned=done, on_errored=self.failed.emit, owner=self,
        )

    # -- geometry ---------------------------------------------------------------------------
    def _show(self, display: np.ndarray, factor: int) -> None:
        # levels=(0, 255) on uint8: pyqtgraph draws it without a rescaling pass.
        self.item.setImage(display, autoLevels=False, levels=(0, 255))
        rows, cols = self.image.shape if self.image else (display.shape[0] * factor, display.shape[1] * factor)
        self._scale = (cols / display.shape[1], rows / display.shape[0])
        self._apply_orientation()

    def _apply_orientation(self) -> None:
        sx, sy = self._scale
        flip_h = self.auto_flip_h != self.user_flip_h
        transform = QTransform.fromScale(sx, sy)
        transform *= QTransform.fromScale(-1.0 if flip_h else 1.0, -1.0 if self.user_flip_v else 1.0)
        transform *= QTransform().rotate(90 * self.rotation)
        self.item.setTransform(transform)

    def rotate(self, quarter_turns: int = 1) -> None:
        self.rotation = (self.rotation + quarter_turns) % 4
        self._apply_orientation()
        self.fit()

    def flip_horizontal(self) -> None:
        self.user_flip_h = not self.user_flip_h
        self._apply_orientation()
        self.fit()

    def flip_vertical(self) -> None:
        self.user_flip_v = not self.user_flip_v
        self._apply_orientation()
        self.fit()

    def reset_view(self) -> None:
        self.rotation, self.user_flip_h, self.user_flip_v, self.invert = 0, False, False, False
        if self.image is not None and self.prepared is not None:
            self.preset = self.default_preset or self.image.default_preset(self.frame_index)
            self.window = window_of(self.image, self.preset)
            self._rerender(full=True)
        self._apply_orientation()
        self.fit()

    def fit(self) -> None:
        if self.image is not None:
            self.box.autoRange(padding=0.02)

    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        if self.image is None:
            return 1.0
        px = self.box.viewPixelSize()[0]
        return 1.0 / px if px > 0 else 1.0

    def set_zoom(self, zoom: float) -> None:
        """Zoom about the current center to ``zoom`` screen pixels per image pixel."""
        if self.image is None or zoom <= 0:
            return
        rect = self.box.viewRect()
        size = self.box.size()
        w, h = size.width() / zoom, size.height() / zoom
        c = rect.center()
        self.box.setRange(QRectF(c.x() - w / 2, c.y() - h / 2, w, h), padding=0)

    def one_to_one(self) -> None:
        self.set_zoom(1.0)
        self.zoomEdited.emit(1.0)

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.zoom() * factor)
        self.zoomEdited.emit(self.zoom())

    def _on_range_changed(self, *_args) -> None:
        self._update_labels()
        self.stateChanged.emit()
        if not self._dragging and self._wants_full():
            self._request_full()

    # -- read-out and overlays ----------------------------------------------------------
    def _on_mouse_moved(self, pos: QPointF) -> None:
        if self.image is None:
            return
        local = self.item.mapFromScene(pos)
        # Item coordinates are pixels of the (possibly reduced) display array.
        sx, sy = self._scale
        col, row = int(np.floor(local.x() * sx)), int(np.floor(local.y() * sy))
        value = readout(self.image, self.frame_index, row, col)
        self.cursorMoved.emit(value.text() if value else "")

    def mousePressEvent(self, event) -> None:
        self.activated.emit()
        super().mousePressEvent(event)

    def _overlay(self, corner: str) -> QLabel:
        label = OutlinedLabel(self.view)
        label.setObjectName("ViewportInfo")
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        label.setAlignment(Qt.AlignmentFlag.AlignRight if corner.endswith("r") else Qt.AlignmentFlag.AlignLeft)
        return label

    def _update_labels(self) -> None:
        image = self.image
        if image is None:
            texts = {"tl": "", "tr": "", "bl": "", "br": ""}
        else:
            meta = image.metadata
            lat, view = view_of(meta, image.path)
            tr = " ".join(x for x in (meta.modality, lat, view) if x)
            wl = f"W {self.window.width:.0f}  L {self.window.center:.0f}" if self.window and not image.is_color else ""
            frame = f"Frame {self.frame_index + 1}/{image.n_frames}  " if image.n_frames > 1 else ""
            texts = {
                "tl": self.label,
                "tr": tr + (f"\n{meta.series_description}" if meta.series_description else ""),
                "bl": wl + ("  inverted" if self.invert else ""),
                "br": f"{frame}Zoom {self.zoom() * 100:.0f}%",
            }
        for corner, text in texts.items():
            self._labels[corner].setText(text)
            self._labels[corner].adjustSize()
        self._check_window()
        self._place_labels()

    def window_misses_data(self) -> Optional[WindowCoverage]:
        """The coverage of the file's own window when it misses the pixel data, else None."""
        image, prepared, window = self.image, self.prepared, self.window
        if image is None or prepared is None or window is None or image.is_color:
            return None
        # Only the file's own window: one the user set is the user's choice. (Compared by
        # value: the preset may have come back from a decoding helper as a copy.)
        key = _preset_key(self.preset)
        if key is None or not any(_preset_key(p) == key for p in image.presets):
            return None
        coverage = window_coverage(prepared.counts, prepared.edges, window.center, window.width)
        return coverage if coverage.misses else None

    def _check_window(self) -> None:
        miss = self.window_misses_data()
        if miss is None:
            self.window_banner.hide()
            return
        w = self.window
        self.window_banner.show_miss(miss.data_low, miss.data_high, w.center - w.width / 2, w.center + w.width / 2)

    def show_full_range(self) -> None:
        """Window over every pixel value of the frame shown (the banner's one click)."""
        if self.image is None or self.image.is_color:
            return
        self.apply_preset(full_range_preset(self.image.modality_values(self.frame_index)))

    def _place_labels(self) -> None:
        w, h, m = self.view.width(), self.view.height(), 6
        for corner, label in self._labels.items():
            x = m if corner[1] == "l" else w - label.width() - m
            y = m if corner[0] == "t" else h - label.height() - m
            label.move(max(0, x), max(0, y))
        banner = self.window_banner
        if banner.isVisible():
            banner.setMaximumWidth(max(120, w - 2 * m))
            banner.adjustSize()
            bottom = self._labels["bl"].y() if self._labels["bl"].text() else h - m
            banner.move(m, max(0, bottom - banner.height() - 2))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_labels()

    def display_array(self) -> Optional[np.ndarray]:
        """The uint8 array on screen now (tests and screenshots compare it)."""
        return self.item.image


def _preset_key(preset: Optional[DisplayPreset]):
    if preset is None or preset.lut is not None:
        return None
    return preset.name, preset.center, preset.width, preset.function
