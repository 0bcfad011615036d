"""An editor for any configuration dataclass, built from its fields.

Numbers get spin boxes, ``Literal`` strings a drop-down, lists a
comma-separated line, nested dataclasses a group. Every edit rebuilds the
dataclass through ``config_io.from_dict``, so the dataclass's own checks
decide what is valid; an invalid edit is reported, not applied.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, Optional, get_args, get_origin, get_type_hints

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from medvision_app.utils.config_io import ConfigError, from_dict, to_dict


class ConfigForm(QWidget):
    configChanged = Signal(object)  # the new dataclass instance
    invalid = Signal(str)

    def __init__(self, config: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.cls = type(config)
        self.config = config
        self._getters: dict[tuple[str, ...], Any] = {}
        self._setters: dict[tuple[str, ...], Any] = {}
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._build(layout, self.cls, to_dict(config), ())

    def _build(self, form: QFormLayout, cls: type, values: dict, prefix: tuple[str, ...]) -> None:
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = prefix + (f.name,)
            hint = hints[f.name]
            label = f.name.replace("_", " ")
            if dataclasses.is_dataclass(hint):
                box = QGroupBox(label)
                inner = QFormLayout(box)
                self._build(inner, hint, values[f.name], key)
                form.addRow(box)
                continue
            form.addRow(label, self._editor(key, hint, values.get(f.name)))

    def _editor(self, key: tuple[str, ...], hint: Any, value: Any) -> QWidget:
        origin = get_origin(hint)
        if origin is Literal:
            editor = QComboBox()
            editor.addItems([str(v) for v in get_args(hint)])
            editor.setCurrentText(str(value))
            editor.currentTextChanged.connect(self._edited)
            self._getters[key], self._setters[key] = editor.currentText, editor.setCurrentText
        elif hint is bool:
            editor = QCheckBox()
            editor.setChecked(bool(value))
            editor.toggled.connect(self._edited)
            self._getters[key], self._setters[key] = editor.isChecked, editor.setChecked
        elif hint is int:
            editor = QSpinBox()
            editor.setRange(-10**9, 10**9)
            editor.setValue(int(value))
            editor.setKeyboardTracking(False)
            editor.valueChanged.connect(self._edited)
            self._getters[key], self._setters[key] = editor.value, editor.setValue
        elif hint is float:
            editor = QDoubleSpinBox()
            editor.setRange(-1e6, 1e6)
            editor.setDecimals(3)
            editor.setSingleStep(0.05)
            editor.setValue(float(value))
            editor.setKeyboardTracking(False)
            editor.valueChanged.connect(self._edited)
            self._getters[key], self._setters[key] = editor.value, editor.setValue
        elif origin in (list, tuple):
            editor = QLineEdit(", ".join(f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in value or []))
            editor.setPlaceholderText("comma-separated values")
            editor.editingFinished.connect(self._edited)
            item_type = (get_args(hint) or (float,))[0]
            self._getters[key] = lambda e=editor, t=item_type: _parse_list(e.text(), t)
            self._setters[key] = lambda v, e=editor: e.setText(", ".join(f"{x:g}" for x in v))
        else:
            editor = QLineEdit("" if value is None else str(value))
            editor.editingFinished.connect(self._edited)
            self._getters[key], self._setters[key] = editor.text, editor.setText
        return editor

    def values(self) -> dict:
        data: dict = {}
        for key, getter in self._getters.items():
            target = data
            for part in key[:-1]:
                target = target.setdefault(part, {})
            target[key[-1]] = getter()
        return data

    def set_config(self, config: Any) -> None:
        """Show ``config`` without reporting it as an edit."""
        self.config = config
        flat = _flatten(to_dict(config))
        self.blockSignals(True)
        try:
            for key, setter in self._setters.items():
                if key in flat:
                    setter(flat[key])
        finally:
            self.blockSignals(False)

    def _edited(self, *_args) -> None:
        if self.signalsBlocked():
            return
        try:
            config = from_dict(self.cls, self.values())
        except (ConfigError, ValueError, TypeError) as exc:
            self.invalid.emit(str(exc))
            return
        self.config = config
        self.configChanged.emit(config)


def _parse_list(text: str, item_type: Any) -> list:
    convert = int if item_type is int else float
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        return [convert(p) for p in parts]
    except ValueError:
        return parts  # let the dataclass say what is wrong


def _flatten(data: dict, prefix: tuple[str, ...] = ()) -> dict:
    out = {}
    for name, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, prefix + (name,)))
        else:
            out[prefix + (name,)] = value
    return out

