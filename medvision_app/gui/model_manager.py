"""Models… : list, import (file dialog or drag and drop of .onnx), remove, verify, and the card in full.

Every action goes through :class:`~medvision_app.inference.registry.ModelRegistry`,
which verifies each file; a model that fails is listed as refused, with the
reason, and cannot be chosen for analysis.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)


class ModelManagerDialog(QDialog):
    modelsChanged = Signal()

    def __init__(self, registry=None, parent: Optional[QWidget] = None) -> None:
        from medvision_app.inference.registry import ModelRegistry

        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setAcceptDrops(True)
        self.resize(900, 560)
        self.registry = registry or ModelRegistry()
        self.entries: list = []

        self.list = QListWidget()
        self.card_view = QTextBrowser()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.import_button = QPushButton("Import…")
        self.remove_button = QPushButton("Remove")
        self.verify_button = QPushButton("Verify")
        buttons = QHBoxLayout()
        for b in (self.import_button, self.remove_button, self.verify_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons.addWidget(close)
        body = QHBoxLayout()
        body.addWidget(self.list, 1)
        body.addWidget(self.card_view, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Drop .onnx files here to import them. Each model is verified (hash and card) "
                                "every time it is listed or loaded."))
        layout.addLayout(body, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

        self.list.currentRowChanged.connect(self._show_entry)
        self.import_button.clicked.connect(self._import_dialog)
        self.remove_button.clicked.connect(self.remove_selected)
        self.verify_button.clicked.connect(self.verify_selected)
        self.refresh()

    def refresh(self) -> None:
        from medvision_app.inference.provenance_view import entry_provenance

        row = self.list.currentRow()
        self.entries = self.registry.list()
        self.list.clear()
        for entry in self.entries:
            if entry.ok:
                text = f"{entry.name}  ·  {entry.location}  ·  {entry_provenance(entry)}"
            else:
                text = f"{entry.name}  ·  {entry.location}  ·  REFUSED"
            item = QListWidgetItem(text)
            if not entry.ok:
                item.setForeground(QBrush(QColor("#d04040")))
                item.setToolTip(entry.problem)
            self.list.addItem(item)
        if self.entries:
            self.list.setCurrentRow(min(max(row, 0), len(self.entries) - 1))

    def selected(self):
        row = self.list.currentRow()
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def _show_entry(self, _row: int) -> None:
        from medvision_app.inference.card_view import card_facts
        from medvision_app.inference.provenance_view import entry_provenance

        entry = self.selected()
        self.remove_button.setEnabled(entry is not None and entry.location == "user")
        if entry is None:
            self.card_view.setHtml("")
            return
        if not entry.ok:
            self.card_view.setHtml(f"<h3>{escape(entry.name)}: refused</h3><p>{escape(str(entry.path))}</p>"
                                   f"<p><b>Reason:</b> {escape(entry.problem)}</p>"
                                   "<p>A refused model cannot be chosen for analysis.</p>")
            return
        rows = card_facts(entry.card, provenance=entry_provenance(entry), location=entry.location)
        table = "".join(f"<tr><td valign='top'><b>{escape(k)}</b></td><td>{escape(v)}</td></tr>" for k, v in rows)
        self.card_view.setHtml(f"<h3>{escape(entry.name)}</h3><p><small>{escape(str(entry.path))}</small></p>"
                               f"<table cellspacing='4'>{table}</table>")

    def import_files(self, paths) -> list[Path]:
        from medvision_app.inference.errors import ModelError

        done, problems = [], []
        for path in paths:
            try:
                done.append(self.registry.import_model(Path(path)))
            except ModelError as exc:
                problems.append(str(exc))
        self.message.setText("\n".join([f"imported {p.stem}" for p in done] + [f"refused: {p}" for p in problems]))
        if done:
            self.refresh()
            self.modelsChanged.emit()
        return done

    def _import_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Import models", "", "ONNX models (*.onnx)")
        if files:
            self.import_files(files)

    def remove_selected(self) -> None:
        from medvision_app.inference.errors import ModelError

        entry = self.selected()
        if entry is None:
            return
        try:
            self.registry.remove(entry.name)
        except ModelError as exc:
            self.message.setText(str(exc))
            return
        self.message.setText(f"removed {entry.name}")
        self.refresh()
        self.modelsChanged.emit()

    def verify_selected(self) -> None:
        from medvision_app.inference.errors import ModelError

        entry = self.selected()
        if entry is None:
            return
        try:
            card = self.registry.verify(entry.path)
            self.message.setText(f"{entry.name}: verified, sha256 {card.graph_sha256}")
        except ModelError as exc:
            self.message.setText(f"{entry.name}: REFUSED: {exc.reason}")
        self.refresh()

    def dragEnterEvent(self, event) -> None:
        if any(u.toLocalFile().endswith(".onnx") for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.toLocalFile().endswith(".onnx")]
        if paths:
            event.acceptProposedAction()
            self.import_files(paths)


