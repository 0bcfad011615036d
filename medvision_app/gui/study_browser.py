"""Study browser: patient -> study -> series -> instance, with lazy thumbnails.

Scanning runs in a worker (``index_files`` / ``scan_folder``) with a progress
bar and a Cancel button. Thumbnails are rendered one at a time on a pool of
their own, so they never hold up decoding of the images being viewed; an
image's thumbnail is asked for only when its row is first shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from medvision_app.events import CancelToken, Progress
from medvision_app.gui.decoder import load_thumbnail
from medvision_app.gui.theme import icon, set_icon, theme_signals
from medvision_app.gui.workers import start_worker
from medvision_app.imaging.study_index import InstanceRecord, StudyIndex
from medvision_app.imaging.viewing import index_files

THUMB = 56
_ROLE = Qt.ItemDataRole.UserRole
_ICON_ROLE = Qt.ItemDataRole.UserRole + 1  # name of a themed icon, re-tinted when the theme changes


class _EventBridge(QObject):
    """Carries job events from the worker thread to the GUI thread (queued signal)."""

    event = Signal(object)


def to_qimage(array: np.ndarray) -> QImage:
    """A deep-copied QImage of a uint8 (H, W) or (H, W, 3) array."""
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    if array.ndim == 2:
        return QImage(array.data, w, h, array.strides[0], QImage.Format.Format_Grayscale8).copy()
    return QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGB888).copy()


class StudyBrowser(QWidget):
    openRequested = Signal(object, object)  # list of (ImageMetadata, Path), layout or None
    scanFinished = Signal(object)  # StudyIndex
    scanFailed = Signal(object)  # exception
    scanCancelled = Signal()
    thumbnailsDone = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.index: Optional[StudyIndex] = None
        self._token: Optional[CancelToken] = None
        self._thumb_pool = QThreadPool(self)
        self._thumb_pool.setMaxThreadCount(1)
        self._thumb_queue: list[QTreeWidgetItem] = []
        self._thumb_busy = False
        self._thumb_generation = 0
        # Set by the main window: a display image already decoded for the
        # viewer (saves decoding a 12-megapixel file twice), and whether the
        # viewer is still decoding (thumbnails wait rather than compete).
        self.cached_display: Callable[[Path], Optional[np.ndarray]] = lambda _path: None
        self.viewer_busy: Callable[[], bool] = lambda: False
        self._bridge = _EventBridge()
        self._bridge.event.connect(self._on_event)

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Study", "Details"])
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.setAlternatingRowColors(True)
        self.tree.setColumnWidth(0, 230)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.tree.itemExpanded.connect(self._queue_children)
        self.progress = QProgressBar()
        self.progress_label = QLabel()
        self.progress_label.setObjectName("Caption")
        self.cancel_button = set_icon(QPushButton("Cancel"), "cancel")
        self.hint = QLabel("Double-click an image, a series or a study to open it.")
        self.hint.setObjectName("Caption")
        self.hint.setWordWrap(True)
        self.tree.setToolTip("Double-click an image, a series or a study to open it")
        theme_signals().changed.connect(self.refresh_icons)
        self.cancel_button.clicked.connect(self.cancel_scan)
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.hint)
        layout.addWidget(self.progress_label)
        layout.addLayout(bar)
        self._set_scanning(False)

    # -- scanning ---------------------------------------------------------------------
    def scan(self, paths: Sequence[Path]) -> None:
        """Index ``paths`` (one folder, or files) in the background and show the tree."""
        self.cancel_scan()
        token = self._token = CancelToken()
        self._set_scanning(True)
        self.progress_label.setText("Scanning…")
        start_worker(
            index_files, list(paths), emit=self._bridge.event.emit, cancel=token,
            on_returned=lambda index: self._on_scanned(index, token),
            on_errored=lambda exc: self._on_scan_error(exc, token),
            on_aborted=lambda: self._on_scan_cancelled(token),
            owner=self,
        )

    def cancel_scan(self) -> None:
        if self._token is not None:
            self._token.cancel()

    def is_scanning(self) -> bool:
        return self._token is not None

    def _set_scanning(self, scanning: bool) -> None:
        self.progress.setVisible(scanning)
        self.cancel_button.setVisible(scanning)
        self.progress_label.setVisible(scanning)

    def _on_event(self, event) -> None:
        if isinstance(event, Progress) and self._token is not None:
            self.progress.setMaximum(event.total or 0)
            self.progress.setValue(event.done)
            self.progress_label.setText(f"Scanning: {event.done} of {event.total or '?'} files")

    def _on_scanned(self, index: StudyIndex, token: CancelToken) -> None:
        if token is not self._token:
            return
        self._token = None
        self._set_scanning(False)
        # The study opens first, so that the tree's thumbnails find the viewer
        # busy and wait: starting a thumbnail thread in this same event added
        # 36 ms to the longest freeze while a four-view loaded.
        self.index = index
        self.scanFinished.emit(index)
        self.show_index(index)

    def _on_scan_error(self, exc: BaseException, token: CancelToken) -> None:
        if token is not self._token:
            return
        self._token = None
        self._set_scanning(False)
        self.scanFailed.emit(exc)

    def _on_scan_cancelled(self, token: CancelToken) -> None:
        if token is not self._token:
            return  # a scan replaced by a newer one: the newer one owns the progress bar
        self._token = None
        self._set_scanning(False)
        self.progress_label.setText("Scan cancelled")
        self.progress_label.show()
        self.scanCancelled.emit()

    # -- tree ----------------------------------------------------------------------------
    def show_index(self, index: StudyIndex) -> None:
        self.index = index
        self._thumb_generation += 1
        self._thumb_queue.clear()
        self.tree.clear()
        for patient in index.patients:
            p_item = QTreeWidgetItem([patient.name or patient.patient_id or "Unknown patient", patient.patient_id or ""])
            _set_named_icon(p_item, "patient")
            self.tree.addTopLevelItem(p_item)
            for study in patient.studies:
                n = sum(len(s.instances) for s in study.series)
                s_item = QTreeWidgetItem([study.description or "Study", f"{_date(study.date)}  {n} image(s)"])
                _set_named_icon(s_item, "study")
                s_item.setData(0, _ROLE, ("study", [i for s in study.series for i in s.instances]))
                p_item.addChild(s_item)
                for series in study.series:
                    label = series.description or f"Series {series.number or ''}".strip()
                    se_item = QTreeWidgetItem([label, f"{series.modality or ''}  {len(series.instances)} image(s)"])
                    _set_named_icon(se_item, "series")
                    se_item.setData(0, _ROLE, ("series", list(series.instances)))
                    s_item.addChild(se_item)
                    for record in series.instances:
                        i_item = QTreeWidgetItem([record.path.name, _instance_details(record)])
                        _set_named_icon(i_item, "image")
                        i_item.setData(0, _ROLE, ("instance", [record]))
                        i_item.setToolTip(0, str(record.path))
                        se_item.addChild(i_item)
                s_item.setExpanded(True)
            p_item.setExpanded(True)
        if index.unreadable:
            bad = QTreeWidgetItem([f"Unreadable files ({len(index.unreadable)})", ""])
            _set_named_icon(bad, "warning")
            self.tree.addTopLevelItem(bad)
            for item in index.unreadable:
                child = QTreeWidgetItem([item.path.name, item.reason])
                child.setToolTip(0, str(item.path))
                child.setToolTip(1, item.reason)
                bad.addChild(child)
            bad.setExpanded(True)
        _add_tooltips(self.tree.invisibleRootItem())
        for k in range(self.tree.topLevelItemCount()):
            self._queue_children(self.tree.topLevelItem(k))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Names get most of a narrow dock; details keep the rest (a fixed 230 px hid them at laptop size).
        self.tree.setColumnWidth(0, max(140, int(self.tree.viewport().width() * 0.62)))

    def refresh_icons(self, *_args) -> None:
        """Re-tint the tree's icons (not thumbnails) for the theme now applied."""
        stack = [self.tree.invisibleRootItem()]
        while stack:
            item = stack.pop()
            name = item.data(0, _ICON_ROLE)
            if name:
                item.setIcon(0, icon(name))
            stack.extend(item.child(k) for k in range(item.childCount()))

    def first_study_items(self) -> list:
        """(metadata, path) of the study to open after a scan.

        A study the hanging protocol recognises (a mammography four-view) is
        preferred; otherwise the first study in the tree.
        """
        from medvision_app.imaging.hanging import MAMMO_FOUR_VIEW, hang

        if not self.index or not self.index.patients:
            return []
        studies = [
            [(r.metadata, r.path) for s in study.series for r in s.instances if r.has_pixels]
            for patient in self.index.patients
            for study in patient.studies
        ]
        studies = [items for items in studies if items]
        for items in studies:
            if hang(items).protocol == MAMMO_FOUR_VIEW:
                return items
        # Some collections (CBIS-DDSM) give every view its own patient ID and
        # study: when the opened files together make a four-view, hang them.
        together = [item for items in studies for item in items]
        if hang(together).protocol == MAMMO_FOUR_VIEW:
            return together
        return studies[0] if studies else []

    def _on_double_click(self, item: QTreeWidgetItem, _column: int) -> None:
        data = item.data(0, _ROLE)
        if not data:
            return
        kind, records = data
        items = [(r.metadata, r.path) for r in records if r.has_pixels]
        if items:
            self.openRequested.emit(items, "1x1" if kind == "instance" else None)

    # -- thumbnails: only for rows that are on show, one at a time -------------------------
    def _queue_children(self, parent: QTreeWidgetItem) -> None:
        for k in range(parent.childCount()):
            child = parent.child(k)
            data = child.data(0, _ROLE)
            if data and data[0] in ("series", "instance") and not child.data(1, _ROLE):
                child.setData(1, _ROLE, "queued")
                self._thumb_queue.append(child)
            if child.isExpanded():
                self._queue_children(child)
        self._next_thumbnail()

    def _next_thumbnail(self) -> None:
        if self._thumb_busy:
            return
        if not self._thumb_queue:
            self.thumbnailsDone.emit()
            return
        item = self._thumb_queue[0]
        if not isValid(item):  # its tree was cleared
            self._thumb_queue.pop(0)
            self._next_thumbnail()
            return
        records = item.data(0, _ROLE)[1]
        record = next((r for r in records if r.has_pixels), None)
        if record is None:
            self._thumb_queue.pop(0)
            self._next_thumbnail()
            return
        cached = self.cached_display(record.path)
        if cached is None and self.viewer_busy():
            self._thumb_busy = True
            QTimer.singleShot(100, self, self._thumb_finished)
            return
        self._thumb_queue.pop(0)
        self._thumb_busy = True
        generation = self._thumb_generation
        if cached is not None:
            step = max(1, -(-max(cached.shape[:2]) // THUMB))
            self._set_thumb(item, cached[::step, ::step], generation)
            QTimer.singleShot(0, self, self._thumb_finished)
            return
        start_worker(
            load_thumbnail, record.path, THUMB,
            on_returned=lambda arr: self._set_thumb(item, arr, generation),
            on_errored=lambda exc: self._thumb_failed(item, exc, generation),
            on_finished=self._thumb_finished,
            pool=self._thumb_pool,
            owner=self,
        )

    def _thumb_finished(self) -> None:
        self._thumb_busy = False
        self._next_thumbnail()

    def _set_thumb(self, item: QTreeWidgetItem, array: np.ndarray, generation: int) -> None:
        if generation == self._thumb_generation and isValid(item):
            item.setData(0, _ICON_ROLE, None)  # a thumbnail: nothing to re-tint
            item.setIcon(0, QIcon(QPixmap.fromImage(to_qimage(array))))

    def _thumb_failed(self, item: QTreeWidgetItem, exc: BaseException, generation: int) -> None:
        if generation == self._thumb_generation and isValid(item):
            _set_named_icon(item, "warning")
            item.setToolTip(1, getattr(exc, "reason", str(exc)))
            item.setText(1, f"cannot decode: {getattr(exc, 'reason', exc)}")

    def pending_thumbnails(self) -> int:
        return len(self._thumb_queue) + (1 if self._thumb_busy else 0)


def _set_named_icon(item: QTreeWidgetItem, name: str) -> None:
    item.setData(0, _ICON_ROLE, name)
    item.setIcon(0, icon(name))


def _add_tooltips(parent: QTreeWidgetItem) -> None:
    """Every name and detail gets its full text as a tooltip (the columns cut long ones short)."""
    for k in range(parent.childCount()):
        item = parent.child(k)
        for column in (0, 1):
            if item.text(column) and not item.toolTip(column):
                item.setToolTip(column, item.text(column))
        _add_tooltips(item)


def _date(text: Optional[str]) -> str:
    if text and len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text or ""


def _instance_details(record: InstanceRecord) -> str:
    parts = [record.metadata.modality or record.format]
    if record.rows and record.columns:
        parts.append(f"{record.columns}x{record.rows}")
    if record.n_frames > 1:
        parts.append(f"{record.n_frames} frames")
    if not record.has_pixels:
        parts.append("no pixel data")
    return "  ".join(p for p in parts if p)
