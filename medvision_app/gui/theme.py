"""Dark and light themes (Qt style sheets) and the SVG icons, tinted to match."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
THEMES = ("dark", "light")
_ICON_COLOR = {"dark": "#d6d9de", "light": "#2b3037"}
_current = "dark"


def apply_theme(app: QApplication, name: str) -> None:
    """Load ``resources/styles/<name>.qss`` into ``app``; unknown names raise ValueError."""
    global _current
    if name not in THEMES:
        raise ValueError(f"theme {name!r} is not one of {', '.join(THEMES)}")
    path = RESOURCES / "styles" / f"{name}.qss"
    app.setStyleSheet(path.read_text(encoding="utf-8") if path.is_file() else "")
    _current = name


def current_theme() -> str:
    return _current


def icon(name: str) -> QIcon:
    """The SVG icon ``resources/icons/<name>.svg`` drawn in the current theme's colour."""
    return _icon(name, _ICON_COLOR[_current])


@lru_cache(maxsize=None)
def _icon(name: str, color: str) -> QIcon:
    path = RESOURCES / "icons" / f"{name}.svg"
    if not path.is_file():
        return QIcon()
    svg = path.read_text(encoding="utf-8").replace("currentColor", color)
    result = QIcon()
    for size in (16, 24, 32, 48):
        pixmap = QPixmap(size, size)
        pixmap.loadFromData(QByteArray(svg.replace('width="24" height="24"', f'width="{size}" height="{size}"').encode()), "SVG")
        result.addPixmap(pixmap)
    return result
