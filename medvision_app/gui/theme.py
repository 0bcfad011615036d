"""Dark and light themes (Qt style sheets) and the SVG icons, tinted to match."""

from __future__ import annotations

import weakref
from functools import lru_cache
from typing import Optional

from PySide6.QtCore import QByteArray, QObject, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QAbstractButton, QApplication
from shiboken6 import isValid

from medvision_app.utils.shipped import data_root

RESOURCES = data_root() / "resources"
THEMES = ("dark", "light")
_ICON_COLOR = {"dark": "#d6d9de", "light": "#2b3037"}
_current = "dark"
_ICON_PROPERTY = "mv_icon"
_themed_buttons: list[weakref.ref] = []


class _ThemeSignals(QObject):
    changed = Signal(str)  # the new theme's name


_signals: Optional[_ThemeSignals] = None


def theme_signals() -> _ThemeSignals:
    """``theme_signals().changed`` fires after a theme is applied: re-tint what is not a button (tree items)."""
    global _signals
    if _signals is None:
        _signals = _ThemeSignals()
    return _signals


def apply_theme(app: QApplication, name: str) -> None:
    """Load ``resources/styles/<name>.qss`` into ``app``; unknown names raise ValueError.

    Buttons given their icon by :func:`set_icon` are re-tinted at once, and
    ``theme_signals().changed`` tells the rest: icons drawn in the dark
    theme's light grey were washed out on the light theme until a restart.
    """
    global _current
    if name not in THEMES:
        raise ValueError(f"theme {name!r} is not one of {', '.join(THEMES)}")
    path = RESOURCES / "styles" / f"{name}.qss"
    app.setStyleSheet(path.read_text(encoding="utf-8") if path.is_file() else "")
    changed = name != _current
    _current = name
    if changed:
        _retint_buttons()
        theme_signals().changed.emit(name)


def _retint_buttons() -> None:
    # Only buttons registered by set_icon, each checked for life first: walking
    # QApplication.allWidgets() touched widgets already being destroyed and crashed.
    alive = []
    for ref in _themed_buttons:
        button = ref()
        if button is None or not isValid(button):
            continue
        name = button.property(_ICON_PROPERTY)
        if name:
            button.setIcon(icon(str(name)))
        alive.append(ref)
    _themed_buttons[:] = alive


def set_icon(button: QAbstractButton, name: str) -> QAbstractButton:
    """Give ``button`` the icon ``name`` and keep it in the current theme's colour when the theme changes."""
    button.setProperty(_ICON_PROPERTY, name)
    button.setIcon(icon(name))
    _themed_buttons.append(weakref.ref(button))
    return button


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
