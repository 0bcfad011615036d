"""The workstation's main window: menus, toolbar, docks, status bar, notifications.

It wires widgets together and to the core; it holds no imaging logic. Layout,
recent files and theme persist in QSettings and are synced as soon as they
change, so a crash loses nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QSlider,
    QWidget,
)

from medvision_app import __version__
from medvision_app.gui.ai_panel import AiPanel
from medvision_app.gui.augmentation_panel import AugmentationPanel
from medvision_app.gui.error_reporting import ErrorReporter, open_log_folder
from medvision_app.gui.histogram_panel import HistogramPanel
from medvision_app.gui.image_viewport import ImageViewport
from medvision_app.gui.jobs_integration import confirm_close, install_jobs
from medvision_app.gui.notifications import NotificationArea, describe_error
from medvision_app.gui.preprocessing_panel import PreprocessingPanel
from medvision_app.gui.status_bar import ViewerStatusBar
from medvision_app.gui.study_browser import StudyBrowser
from medvision_app.gui.theme import THEMES, apply_theme, current_theme, icon
from medvision_app.gui.viewer_grid import ViewerGrid
from medvision_app.gui.window_geometry import dock_widths, keep_on_screen, place_new_window, scrolling
from medvision_app.gui.workers import start_worker
from medvision_app.imaging.viewing import display_float_reduced

MAX_RECENT = 10
JOBS_DOCK_HEIGHT = 150  # title, table header, one job row and the buttons
ABOUT = (
    "<h3>MedVision {version}</h3>"
    "<p>A workstation for viewing medical images, preparing them for machine "
    "learning and inspecting model predictions.</p>"
    "<p><b>MedVision is decision support for research use. It does not make a "
    "diagnosis</b>; every finding must be read and confirmed by a qualified clinician.</p>"
)


def about_html() -> str:
    """Help > About: what MedVision is and is not, and the sources of the sample images it ships."""
    from html import escape

    from medvision_app.samples import credits

    return ABOUT.format(version=__version__) + "".join(f"<p><small>{escape(line)}</small></p>" for line in credits())


def _panel_inputs(image, index: int):
    """The preview panels' inputs, prepared in a worker so the GUI thread only shows them."""
    from medvision_app.gui import augmentation_panel, preprocessing_panel

    source = display_float_reduced(image, index, max_side=preprocessing_panel.FULL_SIDE)
    return preprocessing_panel.prepare_source(source), augmentation_panel.prepare_source(source)


class MainWindow(QMainWindow):
    def __init__(self, settings: Optional[QSettings] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.settings = settings or QSettings("MedVision", "MedVision")
        # Docks are sized on first show unless a saved layout is restored (docks save one while being built).
        self._default_layout_pending = not self.settings.contains("windowState")
        self.setWindowTitle("MedVision")
        self.setWindowIcon(icon("app"))
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        place_new_window(self)  # from the screen's free area; _restore may replace it
        self._open_after_scan = False
        self._panel_key = None  # (image, frame) the preview panels show
        self._panel_busy = self._panel_stale = False

        self.grid = ViewerGrid()
        self.setCentralWidget(self.grid)
        self.browser = StudyBrowser()
        self.histogram = HistogramPanel()
        self.preprocessing = PreprocessingPanel()
        self.augmentation = AugmentationPanel()
        self.ai = AiPanel(self.grid)
        self.docks = {
            "browser": self._dock("Study browser", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea),
            "histogram": self._dock("Window / level", self.histogram, Qt.DockWidgetArea.RightDockWidgetArea),
            "preprocessing": self._dock("Preprocessing", self.preprocessing, Qt.DockWidgetArea.RightDockWidgetArea),
            "augmentation": self._dock("Augmentation preview", self.augmentation, Qt.DockWidgetArea.RightDockWidgetArea),
            "ai": self._dock("AI analysis", self.ai, Qt.DockWidgetArea.RightDockWidgetArea),
        }
        self.tabifyDockWidget(self.docks["preprocessing"], self.docks["augmentation"])
        self.augmentation.follow_dock(self.docks["augmentation"])
        self.tabifyDockWidget(self.docks["preprocessing"], self.docks["ai"])
        self.status = ViewerStatusBar()
        self.setStatusBar(self.status)
        self.notifications = NotificationArea(self)
        self.errors = ErrorReporter(self)

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        install_jobs(self)  # Jobs dock, Tools > New training or search… (gui/jobs_integration.py)
        self._connect()
        self._restore()

    # -- construction ------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title}")  # saveState() identifies docks by name
        dock.setWidget(scrolling(widget))
        self.addDockWidget(area, dock)
        dock.dockLocationChanged.connect(self._save_layout)
        dock.topLevelChanged.connect(self._save_layout)
        dock.visibilityChanged.connect(self._on_dock_visibility)
        return dock

    def _action(self, text: str, slot, *, icon_name: str = "", shortcut=None, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(icon(icon_name) if icon_name else QIcon(), text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.setToolTip(tip or text)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_open_file = a("Open File…", self.open_file_dialog, icon_name="open-file", shortcut=QKeySequence.StandardKey.Open)
        self.act_open_folder = a("Open Folder…", self.open_folder_dialog, icon_name="open-folder", shortcut="Ctrl+Shift+O")
        self.act_sample = a("Open Sample Study", self.open_sample, icon_name="study")
        self.act_open_run = a("Open Run…", lambda: self.open_run(), tip="Evaluation dashboard of a run or search folder")
        self.act_quit = a("Quit", self.close, shortcut=QKeySequence.StandardKey.Quit)
        self.act_fit = a("Fit to Window", lambda: self._each(ImageViewport.fit), icon_name="fit", shortcut="F")
        self.act_1to1 = a("Actual Pixels (1:1)", lambda: self._each(ImageViewport.one_to_one), icon_name="one-to-one", shortcut="1")
        self.act_zoom_in = a("Zoom In", lambda: self.grid.active.zoom_by(1.25), icon_name="zoom-in", shortcut="+")
        self.act_zoom_out = a("Zoom Out", lambda: self.grid.active.zoom_by(0.8), icon_name="zoom-out", shortcut="-")
        self.act_invert = a("Invert", self._toggle_invert, icon_name="invert", shortcut="I")
        self.act_rotate = a("Rotate 90°", lambda: self._each(ImageViewport.rotate), icon_name="rotate", shortcut="R")
        # Shift+H: plain H shows and hides the AI heatmap, as in clinical AI viewers.
        self.act_flip_h = a("Flip Horizontal", lambda: self._each(ImageViewport.flip_horizontal), icon_name="flip-h", shortcut="Shift+H")
        self.act_flip_v = a("Flip Vertical", lambda: self._each(ImageViewport.flip_vertical), icon_name="flip-v", shortcut="V")
        self.act_reset = a("Reset View", lambda: self._each(ImageViewport.reset_view), icon_name="reset", shortcut="Escape")
        self.act_link = a("Link Window and Zoom", lambda on: self.grid.set_linked(on), icon_name="window-level", checkable=True,
                          tip="Synchronise window/level and zoom across viewports")
        self.layout_group = QActionGroup(self)
        self.act_layouts = {}
        for name in ("1x1", "1x2", "2x2"):
            act = a(f"Layout {name}", lambda _=False, n=name: self.grid.set_layout(n), icon_name=f"layout-{name}", checkable=True)
            self.layout_group.addAction(act)
            self.act_layouts[name] = act
        self.theme_group = QActionGroup(self)
        self.act_themes = {}
        for name in THEMES:
            act = a(f"{name.title()} Theme", lambda _=False, n=name: self.set_theme(n), checkable=True)
            self.theme_group.addAction(act)
            self.act_themes[name] = act
        self.act_about = a("About MedVision", self.show_about, icon_name="info")
        self.act_models = a("Models…", self.show_model_manager, tip="List, import, remove and verify AI models")
        self.addAction(self.ai.toggle_heatmap_action)  # H works wherever the focus is in the window

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.act_open_file, self.act_open_folder])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addAction(self.act_sample)
        file_menu.addAction(self.act_open_run)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        view = bar.addMenu("&View")
        view.addActions([self.act_fit, self.act_1to1, self.act_zoom_in, self.act_zoom_out])
        view.addSeparator()
        view.addActions([self.act_invert, self.act_rotate, self.act_flip_h, self.act_flip_v, self.act_reset])
        view.addSeparator()
        view.addActions(list(self.act_layouts.values()) + [self.act_link])
        view.addSeparator()
        view.addAction(self.ai.toggle_heatmap_action)
        view.addSeparator()
        view.addActions(list(self.act_themes.values()))
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        tools = bar.addMenu("&Tools")
        for key in ("histogram", "preprocessing", "augmentation", "ai"):
            dock = self.docks[key]
            tools.addAction(dock.windowTitle(), lambda d=dock: (d.show(), d.raise_()))
        tools.addAction(self.act_models)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_about)
        help_menu.addAction("Open Log Folder", open_log_folder)
        self._refresh_recent()

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("toolbar-main")
        tb.setMovable(False)
        tb.addActions([self.act_open_file, self.act_open_folder])
        tb.addSeparator()
        tb.addActions([self.act_fit, self.act_1to1, self.act_zoom_in, self.act_zoom_out])
        tb.addSeparator()
        tb.addActions([self.act_invert, self.act_rotate, self.act_flip_h, self.act_flip_v, self.act_reset])
        tb.addSeparator()
        tb.addActions(list(self.act_layouts.values()) + [self.act_link])
        tb.addSeparator()
        self.frame_slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_slider.setFixedWidth(180)
        self.frame_slider.setToolTip("Frame (multi-frame images)")
        self.frame_slider.valueChanged.connect(lambda i: self.grid.active.set_frame(i))
        self.frame_slider_action = tb.addWidget(self.frame_slider)
        self.frame_slider_action.setVisible(False)

    def _connect(self) -> None:
        self.browser.cached_display = self.grid.cached_display
        self.browser.viewer_busy = self.grid.is_loading
        self.browser.openRequested.connect(lambda items, layout: self.grid.open_items(items, layout))
        self.browser.scanFinished.connect(self._on_scanned)
        self.browser.scanFailed.connect(lambda exc: self.notify_error(exc))
        self.grid.loadFailed.connect(lambda path, exc: self.notify_error(exc, path))
        self.grid.activeChanged.connect(self._on_active_changed)
        self.grid.hangingChanged.connect(self._on_hanging_changed)
        self.grid.imageShown.connect(lambda _path: self._on_active_changed(self.grid.active))
        self.grid.allShown.connect(self._update_panel_sources)
        for viewport in self.grid.viewports:
            self._connect_viewport(viewport)
        self.preprocessing.failed.connect(lambda msg, details: self.notifications.notify("error", msg, details))
        self.augmentation.failed.connect(lambda msg, details: self.notifications.notify("error", msg, details))
        self.ai.failed.connect(lambda msg, details: self.notifications.notify("error", msg, details))
        self.ai.openRequested.connect(self._open_single)
        self.ai.manage_button.clicked.connect(self.show_model_manager)

    def _connect_viewport(self, viewport: ImageViewport) -> None:
        if viewport.property("mv_connected"):
            return
        viewport.setProperty("mv_connected", True)
        viewport.cursorMoved.connect(self.status.show_pixel)
        viewport.stateChanged.connect(lambda v=viewport: self._on_viewport_state(v))
        viewport.failed.connect(lambda exc: self.notify_error(exc))

    # -- opening ----------------------------------------------------------------------------
    def open_paths(self, paths: Sequence[Path]) -> None:
        """Open files or one folder: index them, show the tree, hang the first study."""
        paths = [Path(p) for p in paths]
        if not paths:
            return
        for path in paths:
            self._add_recent(path)
        self._open_after_scan = True
        self.browser.scan(paths)

    def _on_scanned(self, index) -> None:
        if index.unreadable:
            details = "\n".join(f"{u.path.name}: {u.reason}" for u in index.unreadable)
            n = len(index.unreadable)
            self.notifications.notify("warning", f"{n} file(s) could not be read", details)
        if self._open_after_scan:
            self._open_after_scan = False
            items = self.browser.first_study_items()
            if items:
                self.grid.open_items(items)

    def open_run(self, folder=None):
        """The evaluation dashboard of a run or search folder (asked for when not given), in its own window."""
        from medvision_app.errors import UserError
        from medvision_app.gui.dashboard import open_dashboard

        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Open run or search folder", self._last_dir())
            if not folder:
                return None
        try:
            return open_dashboard(self, Path(folder))
        except UserError as exc:
            self.notify_error(exc, folder)
            return None

    def open_sample(self) -> None:
        from medvision_app.samples import first_run_sample

        start_worker(first_run_sample, on_returned=lambda folder: self.open_paths([folder]),
                     on_errored=lambda exc: self.notify_error(exc), owner=self)
        # A first prediction on the shipped model's own modality (ultrasound), next to the study.
        self.docks["ai"].show()
        self.docks["ai"].raise_()
        self.ai.show_sample_predictions()

    def open_file_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open images", self._last_dir(),
                                                "Images (*.dcm *.DCM *.png *.jpg *.jpeg *.tif *.tiff *.bmp *.pgm);;All files (*)")
        if files:
            self.open_paths([Path(f) for f in files])

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder", self._last_dir())
        if folder:
            self.open_paths([Path(folder)])

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # -- reactions ---------------------------------------------------------------------------
    def _on_active_changed(self, viewport: ImageViewport) -> None:
        self.histogram.set_viewport(viewport)
        self.status.show_viewport(viewport)
        image = viewport.image
        multi = image is not None and image.n_frames > 1
        self.frame_slider_action.setVisible(multi)
        if multi:
            self.frame_slider.blockSignals(True)
            self.frame_slider.setRange(0, image.n_frames - 1)
            self.frame_slider.setValue(viewport.frame_index)
            self.frame_slider.blockSignals(False)
        self._panel_key = None
        self._update_panel_sources()

    def _on_viewport_state(self, viewport: ImageViewport) -> None:
        if viewport is self.grid.active:
            self.status.show_viewport(viewport)
            self._update_panel_sources()  # a new frame: the previews follow it

    def _on_hanging_changed(self, hanging) -> None:
        for viewport in self.grid.viewports:
            self._connect_viewport(viewport)
        self.act_link.setChecked(self.grid.linked)
        name = f"{hanging.rows}x{hanging.cols}"
        if name in self.act_layouts:
            self.act_layouts[name].setChecked(True)

    def _on_dock_visibility(self, _visible: bool) -> None:
        self._save_layout()
        self._update_panel_sources()

    def _update_panel_sources(self) -> None:
        """Give the preview panels the active image's shown frame, computed in a worker, only when one is on show.

        One computation at a time: a frame slider dragged across a cine loop
        asks again when the current one is done, for the frame shown then.
        """
        viewport = self.grid.active
        image, index = viewport.image, viewport.frame_index
        shown = self._panel_key
        if image is None or (shown is not None and shown[0] is image and shown[1] == index):
            return
        if not (self.docks["preprocessing"].isVisible() or self.docks["augmentation"].isVisible()):
            return
        if self.grid.is_loading():
            return  # the grid's allShown calls again: previews must not slow the study's own images
        if self._panel_busy:
            self._panel_stale = True
            return
        self._panel_key, self._panel_busy, self._panel_stale = (image, index), True, False

        def deliver(inputs) -> None:
            if self.grid.active.image is image and self.grid.active.frame_index == index:
                self.preprocessing.set_prepared_source(inputs[0])
                self.augmentation.set_prepared_source(inputs[1])

        def finished() -> None:
            self._panel_busy = False
            if self._panel_stale:
                self._update_panel_sources()

        start_worker(_panel_inputs, image, index, on_returned=deliver, on_errored=self.notify_error,
                     on_finished=finished, owner=self)

    def _each(self, method) -> None:
        for viewport in self.grid.for_targets():
            method(viewport)

    def _toggle_invert(self) -> None:
        for viewport in self.grid.for_targets():
            viewport.set_invert(not viewport.invert)

    def notify_error(self, exc: BaseException, path=None) -> None:
        message, details = describe_error(exc, path)
        self.notifications.notify("error", message, details)

    def _open_single(self, path) -> None:
        """Show one image alone (a double click in the AI panel's table)."""
        from medvision_app.imaging import ImageMetadata

        self.grid.open_items([(ImageMetadata(), Path(path))], "1x1")

    def show_model_manager(self) -> None:
        from medvision_app.gui.model_manager import ModelManagerDialog

        dialog = ModelManagerDialog(parent=self)
        dialog.modelsChanged.connect(self.ai.refresh_models)
        dialog.exec()

    def show_about(self) -> None:
        QMessageBox.about(self, "About MedVision", about_html())

    def set_theme(self, name: str) -> None:
        apply_theme(QApplication.instance(), name)
        self.settings.setValue("theme", name)
        self.settings.sync()
        self.act_themes[name].setChecked(True)
        self._refresh_icons()

    def _refresh_icons(self) -> None:
        names = {
            self.act_open_file: "open-file", self.act_open_folder: "open-folder", self.act_fit: "fit",
            self.act_1to1: "one-to-one", self.act_zoom_in: "zoom-in", self.act_zoom_out: "zoom-out",
            self.act_invert: "invert", self.act_rotate: "rotate", self.act_flip_h: "flip-h",
            self.act_flip_v: "flip-v", self.act_reset: "reset", self.act_link: "window-level",
            self.act_about: "info", self.act_sample: "study",
        }
        names.update({act: f"layout-{n}" for n, act in self.act_layouts.items()})
        for action, name in names.items():
            action.setIcon(icon(name))

    # -- settings ------------------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
            keep_on_screen(self)  # saved on a monitor that may be gone, or larger than this one
        state = self.settings.value("windowState")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        theme = self.settings.value("theme", current_theme())
        self.act_themes.get(theme, self.act_themes["dark"]).setChecked(True)
        if theme != current_theme() and theme in THEMES:
            self.set_theme(theme)

    def _save_layout(self, *_args) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        self.settings.sync()

    def closeEvent(self, event) -> None:
        if not confirm_close(self):  # running jobs: leave them running, stop them, or stay
            event.ignore()
            return
        self.browser.cancel_scan()
        self._save_layout()
        super().closeEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.notifications.relayout()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not event.spontaneous():
            keep_on_screen(self)  # the window manager's frame is known now
        if self._default_layout_pending:
            self._default_layout_pending = False
            QTimer.singleShot(0, self, self._default_dock_sizes)
        elif not event.spontaneous():
            QTimer.singleShot(0, self, self._keep_jobs_dock_usable)

    def _default_dock_sizes(self) -> None:
        # Before the first show the docks' sizes are rescaled away; after it they hold.
        self.docks["preprocessing"].raise_()
        self.resizeDocks([self.docks["browser"], self.docks["histogram"]], list(dock_widths(self.width())),
                         Qt.Orientation.Horizontal)
        # The histogram gets what it needs and no more; the preview panels below need the height.
        height = self.centralWidget().height()
        histogram = min(int(height * 0.3), self.histogram.minimumSizeHint().height() + 30)
        self.resizeDocks([self.docks["histogram"], self.docks["preprocessing"]], [histogram, height - histogram],
                         Qt.Orientation.Vertical)
        self._keep_jobs_dock_usable()

    def _keep_jobs_dock_usable(self) -> None:
        # Qt gives a new bottom dock its minimum, and a layout restored from a
        # larger screen comes back squeezed: on a laptop either left the job
        # table no room for a single row below its header.
        dock = self.docks.get("jobs")
        if dock is not None and dock.isVisible() and dock.height() < JOBS_DOCK_HEIGHT:
            self.resizeDocks([dock], [max(JOBS_DOCK_HEIGHT, self.height() // 6)], Qt.Orientation.Vertical)

    def recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path: Path) -> None:
        text = str(Path(path).resolve())
        items = [text] + [p for p in self.recent() if p != text]
        self.settings.setValue("recent", items[:MAX_RECENT])
        self.settings.sync()
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for text in self.recent():
            self.recent_menu.addAction(text, lambda t=text: self.open_paths([Path(t)]))
        self.recent_menu.setEnabled(bool(self.recent()))

    def _last_dir(self) -> str:
        recent = self.recent()
        if not recent:
            return str(Path.home())
        first = Path(recent[0])
        return str(first if first.is_dir() else first.parent)
