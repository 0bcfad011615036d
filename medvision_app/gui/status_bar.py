"""Status bar fields: pixel under the cursor, window/level, zoom, image size, frame."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from medvision_app.gui.image_viewport import ImageViewport


class ViewerStatusBar(QStatusBar):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.fields = {name: QLabel() for name in ("pixel", "window", "zoom", "size", "frame")}
        self.fields["pixel"].setMinimumWidth(260)
        for name, label in self.fields.items():
            label.setToolTip({
                "pixel": "Position (column, row) and value under the cursor: stored value = modality value",
                "window": "Window width and level (center)",
                "zoom": "Screen pixels per image pixel",
                "size": "Image columns x rows",
                "frame": "Frame",
            }[name])
            if name == "pixel":
                self.addWidget(label, 1)
            else:
                self.addPermanentWidget(label)

    def show_pixel(self, text: str) -> None:
        self.fields["pixel"].setText(text)

    def show_viewport(self, viewport: Optional[ImageViewport]) -> None:
        image = viewport.image if viewport is not None else None
        if image is None:
            for name in ("window", "zoom", "size", "frame"):
                self.fields[name].setText("")
            return
        window = viewport.window
        self.fields["window"].setText(
            f"W {window.width:.0f} / L {window.center:.0f}" if window is not None and not image.is_color else "RGB"
        )
        self.fields["zoom"].setText(f"Zoom {viewport.zoom() * 100:.0f}%")
        rows, cols = image.shape
        self.fields["size"].setText(f"{cols} x {rows}")
        self.fields["frame"].setText(f"Frame {viewport.frame_index + 1}/{image.n_frames}")
