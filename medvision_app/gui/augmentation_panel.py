"""Augmentation preview: a 3x3 grid of variants of the current image.

The grid is ``augmentation.preview(image, config, 9, seed)`` computed in a
background thread; Re-roll draws a new seed (shown, so a variant can be
reproduced); every edit of the config redraws with the same seed.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from medvision_app.augmentation import AugmentationConfig, default_preview_config, preview
from medvision_app.gui.config_form import ConfigForm
from medvision_app.gui.image_grid_view import ImageGridView
from medvision_app.gui.preview_engine import PreviewEngine
from medvision_app.gui.theme import set_icon
from medvision_app.imaging.viewing import reduce_stored, reduction_factor
from medvision_app.utils.config_io import ConfigError, load_config, save_config

PREVIEW_SIDE = 320  # variants are for judging the settings, not for reading


def prepare_source(image: np.ndarray) -> np.ndarray:
    """``image`` reduced to about PREVIEW_SIDE pixels a side."""
    return reduce_stored(image, reduction_factor(image.shape, PREVIEW_SIDE))


class AugmentationPanel(QWidget):
    previewShown = Signal(int)  # seed
    failed = Signal(str, str)

    def __init__(self, parent: Optional[QWidget] = None, *, seed: int = 0) -> None:
        super().__init__(parent)
        self.config: AugmentationConfig = default_preview_config()
        self.seed = int(seed)
        self.source: Optional[np.ndarray] = None
        self._stale = False  # a source or config arrived while hidden: compute when shown
        self._rng = random.Random()
        self.engine = PreviewEngine(self)
        self.engine.resultReady.connect(self._on_result)
        self.engine.failed.connect(lambda _tag, exc: self.failed.emit("The augmentation preview failed", str(exc)))

        self.grid = ImageGridView(3, 3, link=False)
        self.reroll_button = set_icon(QPushButton("Re-roll"), "dice")
        self.reroll_button.setToolTip("Draw nine new variants with a new seed")
        self.reroll_button.clicked.connect(self.reroll)
        self.seed_label = QLabel()
        # Icon-only, as in the preprocessing panel: with text the row was wider than a laptop's dock column.
        save, load = set_icon(QToolButton(), "save"), set_icon(QToolButton(), "open-file")
        save.setToolTip("Save the augmentation settings…")
        load.setToolTip("Load augmentation settings…")
        save.clicked.connect(self._save_dialog)
        load.clicked.connect(self._load_dialog)
        self.form = ConfigForm(self.config)
        self.form.configChanged.connect(self.set_config)
        self.form.invalid.connect(lambda msg: self.status.setText(f"Not applied: {msg}"))
        self.status = QLabel("Open an image to see augmented variants.")
        self.status.setObjectName("Caption")
        self.status.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(self.reroll_button)
        row.addWidget(self.seed_label, 1)
        row.addWidget(load)
        row.addWidget(save)
        # No splitter: the grid's height follows its width so that every
        # variant fills its cell, and the settings follow below it; the dock
        # scrolls the whole panel when it is shorter than that.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row)
        layout.addWidget(self.grid)
        layout.addWidget(self.status)
        layout.addWidget(self.form)
        layout.addStretch(1)
        self._show_seed()

    def set_source(self, image: Optional[np.ndarray]) -> None:
        """The image to augment (float in [0, 1]); reduced here unless already small."""
        self.set_prepared_source(None if image is None else prepare_source(image))

    def set_prepared_source(self, reduced: Optional[np.ndarray]) -> None:
        """An image already reduced by :func:`prepare_source` (in a worker)."""
        self.source = reduced
        if reduced is not None:
            self.grid.follow_aspect(reduced.shape[1] / reduced.shape[0])
        self.refresh()

    def set_config(self, config: AugmentationConfig) -> None:
        self.config = config
        if self.form.config is not config:
            self.form.set_config(config)
        self.refresh()

    def reroll(self) -> None:
        self.seed = self._rng.randrange(0, 2**31 - 1)
        self._show_seed()
        self.refresh()

    def refresh(self) -> None:
        if self.source is None:
            return
        if not self.on_screen():
            # The first variants import torch (4 to 8 s): not while the panel sits behind a tab at start-up.
            self._stale = True
            return
        self._stale = False
        self.status.setText("Computing variants…")
        self.engine.request(self.seed, preview, self.source, self.config, 9, self.seed)

    def on_screen(self) -> bool:
        """Whether the user can see the panel: Qt 6 keeps a dock behind another's tab visible, merely covered."""
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def follow_dock(self, dock) -> None:
        """Compute what was asked while hidden when ``dock``'s tab is brought to the front."""
        dock.visibilityChanged.connect(lambda visible: visible and self._refresh_if_stale())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._refresh_if_stale()

    def _refresh_if_stale(self) -> None:
        if self._stale:
            # after this event: the newly raised tab is laid out and exposed by then
            QTimer.singleShot(0, self, self.refresh)

    def _show_seed(self) -> None:
        self.seed_label.setText(f"Seed {self.seed}")
        self.seed_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def _on_result(self, seed: int, variants: list) -> None:
        if seed != self.seed:
            return  # an older seed's grid finished after a re-roll
        for k, variant in enumerate(variants):
            self.grid.set_image(k, variant, f"#{k + 1}", autorange=True, levels=(0.0, 1.0))
        self.status.setText(self.config.description or "Custom settings")
        self.previewShown.emit(seed)

    def variants(self) -> list:
        return [img for img in self.grid.images()]

    def save_to(self, path: Path) -> None:
        save_config(self.config, Path(path))

    def load_from(self, path: Path) -> None:
        self.set_config(load_config(AugmentationConfig, Path(path)))

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save augmentation", "augmentation.toml", "Config (*.toml *.json)")
        if path:
            self.save_to(Path(path))

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load augmentation", "", "Config (*.toml *.json)")
        if path:
            try:
                self.load_from(Path(path))
            except (ConfigError, OSError) as exc:
                self.failed.emit("The augmentation file could not be loaded", str(exc))
