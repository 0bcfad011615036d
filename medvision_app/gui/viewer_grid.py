"""The viewport grid: 1x1, 1x2 or 2x2, filled by the hanging protocol.

Images are decoded and prepared by workers (``open_image`` then
``prepare_frame``); each viewport fills in as its image arrives. In the
mammography hanging, window/level and zoom are linked across viewports.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from medvision_app.gui.decoder import load_for_view
from medvision_app.gui.image_viewport import ImageViewport
from medvision_app.gui.workers import start_worker
from medvision_app.imaging import ImageMetadata, MedicalImage
from medvision_app.imaging.hanging import MAMMO_FOUR_VIEW, Hanging, hang
from medvision_app.imaging.viewing import PreparedFrame

_CACHE_SIZE = 8


class ViewerGrid(QWidget):
    loadFailed = Signal(object, object)  # path, exception
    imageShown = Signal(object)  # path
    allShown = Signal()  # every viewport of the current hanging shows its image
    activeChanged = Signal(object)  # the active ImageViewport
    hangingChanged = Signal(object)  # Hanging

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self.viewports: list[ImageViewport] = []
        self.items: list[tuple[ImageMetadata, Path]] = []
        self.hanging: Optional[Hanging] = None
        self.layout_name: Optional[str] = None
        self.linked = False
        self._active: Optional[ImageViewport] = None
        self._cache: OrderedDict[Path, tuple[MedicalImage, PreparedFrame]] = OrderedDict()
        self._pending: dict[ImageViewport, Path] = {}
        # All four viewports exist from the start: building a pyqtgraph view
        # costs tens of milliseconds, better spent before a study is open.
        self._set_cells(2, 2)
        self._set_cells(1, 1)

    # -- study ------------------------------------------------------------------------------
    def open_items(self, items: Sequence[tuple[ImageMetadata, Path]], layout: Optional[str] = None) -> None:
        """Show a study: ``(metadata, path)`` per image; ``layout=None`` lets the protocol choose."""
        self.items = [(meta, Path(path)) for meta, path in items]
        self.layout_name = layout
        self._rehang()

    def set_layout(self, layout: Optional[str]) -> None:
        self.layout_name = layout
        self._rehang()

    def _rehang(self) -> None:
        self.hanging = hang(self.items, self.layout_name)
        self.linked = self.hanging.protocol == MAMMO_FOUR_VIEW
        self._set_cells(self.hanging.rows, self.hanging.cols)
        self._pending.clear()
        for viewport in self.viewports:
            viewport.clear()
        for placement in self.hanging.placements:
            viewport = self.viewports[placement.row * self.hanging.cols + placement.col]
            self._load_into(viewport, self.items[placement.item][1], placement.label, placement.chest_wall)
        self.set_active(self.viewports[0])
        self.hangingChanged.emit(self.hanging)

    def _load_into(self, viewport: ImageViewport, path: Path, label: str, chest_wall: Optional[str]) -> None:
        self._pending[viewport] = path
        if path in self._cache:
            self._cache.move_to_end(path)
            self._on_loaded(viewport, path, label, chest_wall, self._cache[path])
            return
        start_worker(
            load_for_view,
            path,
            on_returned=lambda result: self._on_loaded(viewport, path, label, chest_wall, result),
            on_errored=lambda exc: self._on_failed(viewport, path, exc),
            on_aborted=lambda: self._on_failed(viewport, path, None),
            owner=self,
        )

    def _on_loaded(self, viewport, path, label, chest_wall, result) -> None:
        self._cache[path] = result
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        if self._pending.get(viewport) != path:
            return  # the layout changed while this image was decoding
        del self._pending[viewport]
        image, prepared = result
        viewport.set_prepared(image, prepared, label=label, chest_wall=chest_wall)
        if self.linked and self._active is not None and self._active is not viewport and self._active.image is not None:
            win = self._active.window
            if win is not None and not image.is_color:
                viewport.set_window(win.center, win.width)
        self.imageShown.emit(path)
        if not self._pending:
            self._sync_to_active()
            self.allShown.emit()

    def _sync_to_active(self) -> None:
        """Linked viewports share the active one's window once all have arrived, in whatever order."""
        active = self.active
        if self.linked and active.image is not None and active.window is not None:
            self._sync_window(active, active.window.center, active.window.width)

    def _on_failed(self, viewport, path, exc) -> None:
        """A load that failed (``exc``) or was cancelled (None): the cell stays empty, the rest go on."""
        if self._pending.get(viewport) == path:
            del self._pending[viewport]
        if exc is not None:
            self.loadFailed.emit(path, exc)
        if not self._pending:
            self.allShown.emit()

    def cached_display(self, path: Path) -> Optional[np.ndarray]:
        """The reduced default display of ``path`` if it was decoded for viewing, else None."""
        hit = self._cache.get(Path(path))
        return hit[1].display if hit is not None else None

    def is_loading(self) -> bool:
        return bool(self._pending)

    # -- cells ------------------------------------------------------------------------------
    def _set_cells(self, rows: int, cols: int) -> None:
        needed = rows * cols
        while len(self.viewports) < needed:
            viewport = ImageViewport(self)
            viewport.activated.connect(lambda v=viewport: self.set_active(v))
            viewport.windowEdited.connect(lambda c, w, v=viewport: self._sync_window(v, c, w))
            viewport.zoomEdited.connect(lambda z, v=viewport: self._sync_zoom(v, z))
            self.viewports.append(viewport)
        # Only the cells that change move, hide or show: re-laying out a
        # pyqtgraph view that stays put cost tens of milliseconds of the GUI thread.
        for k, viewport in enumerate(self.viewports):
            if k >= needed:
                self._grid.removeWidget(viewport)
                viewport.hide()
                continue
            at = self._grid.indexOf(viewport)
            if at < 0 or self._grid.getItemPosition(at)[:2] != (k // cols, k % cols):
                self._grid.removeWidget(viewport)
                self._grid.addWidget(viewport, k // cols, k % cols)
            viewport.show()
        for r in range(2):
            self._grid.setRowStretch(r, 1 if r < rows else 0)
        for c in range(2):
            self._grid.setColumnStretch(c, 1 if c < cols else 0)

    def visible_viewports(self) -> list[ImageViewport]:
        n = (self.hanging.rows * self.hanging.cols) if self.hanging else 1
        return self.viewports[:n]

    @property
    def active(self) -> ImageViewport:
        return self._active or self.viewports[0]

    def set_active(self, viewport: ImageViewport) -> None:
        if viewport is self._active:
            return
        self._active = viewport
        for v in self.viewports:
            v.setProperty("active", "true" if v is viewport else "false")
            v.style().unpolish(v)
            v.style().polish(v)
        self.activeChanged.emit(viewport)

    # -- linking ---------------------------------------------------------------------------
    def set_linked(self, linked: bool) -> None:
        self.linked = bool(linked)

    def _sync_window(self, source: ImageViewport, center: float, width: float) -> None:
        if not self.linked:
            return
        for viewport in self.visible_viewports():
            if viewport is not source and viewport.image is not None:
                viewport.set_window(center, width)

    def _sync_zoom(self, source: ImageViewport, zoom: float) -> None:
        if not self.linked:
            return
        for viewport in self.visible_viewports():
            if viewport is not source and viewport.image is not None:
                viewport.set_zoom(zoom)

    def for_targets(self):
        """Viewports a toolbar action applies to: all linked ones, else the active one."""
        return [v for v in self.visible_viewports() if v.image is not None] if self.linked else [self.active]
