"""Where the main window goes: a first size from the screen, a restored one kept on a screen.

A fixed 1500x940 window ran off a 1366x768 laptop screen, hiding the right
panels and the status bar; a geometry saved on a monitor that has since been
unplugged put the window where nobody could see it. These functions take the
screens' available rectangles as plain ``QRect`` values so they can be tested
with any screen layout, including ones the test machine does not have.
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QMargins, QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

# The size the layout was designed for; smaller screens get all they have.
PREFERRED = QSize(1600, 1000)
# Window-manager frame assumed before the window is shown (title bar, borders);
# the real margins are applied once known (see fit_frame).
FRAME_ALLOWANCE = QMargins(8, 32, 8, 8)
# The docks' share of the window's width: study browser left, panels right.
BROWSER_SHARE = 0.19
PANELS_SHARE = 0.28


def initial_geometry(available: QRect, *, frame: QMargins = FRAME_ALLOWANCE) -> QRect:
    """The client rectangle of a first window on a screen whose free area is ``available``.

    The preferred size where it fits with its frame, otherwise the whole free
    area less the frame; centred in ``available``.
    """
    room = available.marginsRemoved(frame)
    size = PREFERRED.boundedTo(room.size())
    rect = QRect(0, 0, size.width(), size.height())
    rect.moveCenter(room.center())
    return rect


def clamp_frame(frame_rect: QRect, screens: Sequence[QRect]) -> QRect:
    """``frame_rect`` (the window with its frame) moved and shrunk onto one of ``screens``.

    The screen it overlaps most is kept (the first screen when it overlaps
    none, as after unplugging the monitor it was saved on); a window larger
    than that screen shrinks to it.
    """
    if not screens:
        return QRect(frame_rect)
    target = max(screens, key=lambda s: _area(s.intersected(frame_rect)))
    if _area(target.intersected(frame_rect)) == 0:
        target = screens[0]
    size = frame_rect.size().boundedTo(target.size())
    x = min(max(frame_rect.x(), target.left()), target.left() + target.width() - size.width())
    y = min(max(frame_rect.y(), target.top()), target.top() + target.height() - size.height())
    return QRect(x, y, size.width(), size.height())


def dock_widths(window_width: int) -> tuple[int, int]:
    """Widths of the left (study browser) and right (panels) dock columns for a window this wide."""
    return max(200, int(window_width * BROWSER_SHARE)), max(300, int(window_width * PANELS_SHARE))


def _area(rect: QRect) -> int:
    return max(0, rect.width()) * max(0, rect.height()) if rect.isValid() else 0


def place_new_window(window) -> None:
    """Give a window that has no saved geometry its first size, on the screen it will open on."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        window.setGeometry(initial_geometry(screen.availableGeometry()))


def keep_on_screen(window) -> None:
    """Move and shrink ``window`` (frame included) onto a screen that exists now.

    Before the window is shown its frame is not known and the allowance is
    assumed; called again once shown, the real frame is used.
    """
    if window.isMaximized() or window.isFullScreen():
        return
    screens = [s.availableGeometry() for s in QGuiApplication.screens()]
    inner, frame = window.geometry(), window.frameGeometry()
    if frame == inner:  # not shown yet: no frame known
        margins = FRAME_ALLOWANCE
        frame = inner.marginsAdded(margins)
    else:
        margins = QMargins(inner.left() - frame.left(), inner.top() - frame.top(),
                           frame.right() - inner.right(), frame.bottom() - inner.bottom())
    target = clamp_frame(frame, screens)
    if target != frame:
        window.setGeometry(target.marginsRemoved(margins))


def scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless scroll area: a panel squeezed below its minimum scrolls instead of clipping."""
    area = QScrollArea()
    area.setObjectName("PanelScroll")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area
