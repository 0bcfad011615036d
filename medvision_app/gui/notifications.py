"""Non-modal notifications: cards stacked in a corner of the window.

A failure never opens a modal dialog that blocks reading: it appears as a card
with a one-line message and a Details button for the full reason.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from medvision_app.gui.theme import icon

TRACE_LINES = 6  # details this long (a traceback) go in a scrollable box


@dataclass(frozen=True)
class Notice:
    level: str  # "error", "warning" or "info"
    message: str
    details: str = ""


class NotificationCard(QFrame):
    def __init__(self, notice: Notice, parent: QWidget) -> None:
        super().__init__(parent)
        self.notice = notice
        self.setObjectName("Notification")
        self.setProperty("level", notice.level)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 8, 8)
        row = QHBoxLayout()
        badge = QLabel()
        badge.setPixmap(icon("warning" if notice.level != "info" else "info").pixmap(18, 18))
        self.text = QLabel(notice.message)
        self.text.setWordWrap(True)
        row.addWidget(badge, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.text, 1)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details_button.setVisible(bool(notice.details))
        close = QToolButton()
        close.setIcon(icon("cancel"))
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)
        row.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(row)
        if notice.details.count("\n") >= TRACE_LINES:
            # a traceback: fixed pitch, scrollable, selectable to paste into a report
            self.details = QPlainTextEdit(notice.details)
            self.details.setReadOnly(True)
            self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
            self.details.setFixedHeight(220)
        else:
            self.details = QLabel(notice.details)
            self.details.setWordWrap(True)
            self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setObjectName("Caption")
        self.details.hide()
        outer.addWidget(self.details)
        self.details_button.toggled.connect(self._toggle_details)

    def _toggle_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.parentWidget().relayout()

    def dismiss(self) -> None:
        area = self.parentWidget()
        self.hide()
        self.deleteLater()
        area.forget(self)


class NotificationArea(QWidget):
    """Holds the cards; sits over the bottom-right corner of its parent and lets clicks through elsewhere."""

    MAX_CARDS = 4
    INFO_TIMEOUT_MS = 8000

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, False)
        self.cards: list[NotificationCard] = []
        self.history: list[Notice] = []
        self.hide()

    def notify(self, level: str, message: str, details: str = "") -> NotificationCard:
        notice = Notice(level, message, details)
        self.history.append(notice)
        card = NotificationCard(notice, self)
        self.cards.append(card)
        while len(self.cards) > self.MAX_CARDS:
            self.cards[0].dismiss()
        if level == "info":
            QTimer.singleShot(self.INFO_TIMEOUT_MS, card, lambda c=card: c.dismiss() if c in self.cards else None)
        card.show()
        self.relayout()
        return card

    def forget(self, card: NotificationCard) -> None:
        if card in self.cards:
            self.cards.remove(card)
        self.relayout()

    def relayout(self) -> None:
        parent = self.parentWidget()
        if not self.cards:
            self.hide()
            return
        width = 380
        y = 0
        for card in self.cards:
            card.setFixedWidth(width)
            card.adjustSize()
            card.move(0, y)
            y += card.height() + 6
        self.resize(width, y)
        margin = 16
        self.move(parent.width() - width - margin, parent.height() - y - margin - 24)
        self.show()
        self.raise_()

    def visible_messages(self) -> list[str]:
        return [card.notice.message for card in self.cards]


def describe_error(exc: BaseException, path: Optional[object] = None) -> tuple[str, str]:
    """(one-line message, details) for an exception from a job.

    A :class:`~medvision_app.errors.UserError` (a bad file, a bad setting)
    says what to fix; anything else is a bug, and its traceback goes under
    Details so that it can be read and reported.
    """
    from medvision_app.errors import UserError
    from medvision_app.imaging.errors import ImageOpenError

    if isinstance(exc, ImageOpenError):
        return f"Could not open {exc.path.name}", f"{exc.path}\n{exc.reason}"
    where = f"{path}: " if path else ""
    first = str(exc).splitlines()[0] if str(exc) else ""
    if isinstance(exc, UserError):
        return first or type(exc).__name__, f"{where}{exc}"
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    return f"Unexpected error: {type(exc).__name__}: {first}".rstrip(": "), f"{where}{trace}"
