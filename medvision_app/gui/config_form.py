"""An editor for any configuration dataclass, built from its fields and their declared metadata.

What a field takes is declared once, next to it (``utils/config_schema``):
``Literal`` or enum choices become a drop-down, ``metadata["range"]`` the
spin box limits, ``metadata["help"]`` the tooltip, ``metadata["unit"]`` the
suffix. An ``Optional`` field gets an empty "auto" state that stands for
None. Floats are typed as text (``1e-8`` must survive; a spin box rounds it
to 0). Every edit rebuilds the dataclass through ``config_io.from_dict``, so
the form, the TOML loader and the CLI's ``--set`` refuse the same values
with the same message; an invalid edit is reported, not applied, and the
offending editor is marked. A field declared with ``when`` (a P-NET's dense
layer, a search's Ray settings) is shown only while the settings it names
allow it; its value is kept while hidden.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
from typing import Any, Literal, Optional, Union, get_args, get_origin, get_type_hints

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from medvision_app.utils.config_io import ConfigError, from_dict, to_dict
from medvision_app.utils.config_schema import applies

AUTO = "auto"
INT_LIMIT = 2**31 - 1
INVALID_STYLE = "border: 1px solid #e74c3c;"


def _optional(hint: Any) -> tuple[Any, bool]:
    """``(inner type, True)`` for ``Optional[X]``, else ``(hint, False)``."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _choices(hint: Any) -> Optional[list]:
    if get_origin(hint) is Literal:
        return list(get_args(hint))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return [m.value for m in hint]
    return None


def _fmt(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class ConfigForm(QWidget):
    configChanged = Signal(object)  # the new dataclass instance
    invalid = Signal(str)

    def __init__(self, config: Any, parent: Optional[QWidget] = None, *, hide: tuple[str, ...] = ()) -> None:
        super().__init__(parent)
        self.cls = type(config)
        self.config = config
        self.error = ""
        self.hidden = set(hide)  # dotted keys the owner edits elsewhere (the wizard's data path)
        self._getters: dict[tuple[str, ...], Any] = {}
        self._setters: dict[tuple[str, ...], Any] = {}
        self.editors: dict[str, QWidget] = {}  # dotted key -> editor, for tests and error marks
        self.choosers: dict[QLineEdit, QPushButton] = {}  # a path's editor -> its Choose… button
        # rows shown only under some settings: (layout, row widget, field, key of the dataclass holding it)
        self._conditional: list[tuple[QFormLayout, QWidget, dataclasses.Field, tuple[str, ...]]] = []
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._build(layout, self.cls, to_dict(config), ())
        self._show_applicable()

    def _build(self, form: QFormLayout, cls: type, values: dict, prefix: tuple[str, ...]) -> None:
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = prefix + (f.name,)
            if not f.init or ".".join(key) in self.hidden:
                continue
            hint, optional = _optional(hints[f.name])
            label = f.name.replace("_", " ")
            if dataclasses.is_dataclass(hint):
                if optional:
                    continue  # written by runs, not by people (RunFacts.metadata_encoding)
                box = QGroupBox(label)
                box.setToolTip(f.metadata.get("help", ""))
                inner = QFormLayout(box)
                self._build(inner, hint, values.get(f.name) or {}, key)
                form.addRow(box)
                self._track(form, box, f, prefix)
                continue
            editor = self._editor(key, hint, optional, values.get(f.name), f.metadata)
            if editor is None:
                continue
            unit = f.metadata.get("unit")
            if unit and isinstance(editor, QLineEdit) and unit not in label:
                label = f"{label} ({unit})"  # a line edit has no suffix to carry it, as a spin box does
            if f.metadata.get("path") and isinstance(editor, QLineEdit):
                editor = self._with_chooser(editor, f.metadata["path"], label)
            form.addRow(label, editor)
            self._track(form, editor, f, prefix)

    def _track(self, form: QFormLayout, row: QWidget, f: dataclasses.Field, prefix: tuple[str, ...]) -> None:
        if f.metadata.get("when"):
            self._conditional.append((form, row, f, prefix))

    def _show_applicable(self, values: Optional[dict] = None) -> None:
        """Show each conditional row while the settings it names allow it (the editors' ``values``, valid or not).

        A row the current error names stays shown whatever the settings, so
        the value it complains about can be mended.
        """
        values = self.values() if values is None else values
        named = _named_keys(self.error)
        for form, row, f, prefix in self._conditional:
            owner = values
            for part in prefix:
                owner = owner.get(part) or {}
            blamed = _names(named, ".".join(prefix + (f.name,)))
            form.setRowVisible(row, blamed or applies(f, owner, values))

    def is_shown(self, dotted: str) -> bool:
        """Whether the row of ``dotted`` (``architecture``, ``ray.address``) is shown now, with every group above it."""
        key = tuple(dotted.split("."))
        hidden = {prefix + (f.name,) for form, row, f, prefix in self._conditional if not form.isRowVisible(row)}
        return not any(key[:n] in hidden for n in range(1, len(key) + 1))

    def _with_chooser(self, editor: QLineEdit, kind: str, label: str) -> QWidget:
        """``editor`` with a Choose… button that fills it from a file or folder dialog."""
        button = QPushButton("Choose…")
        button.setToolTip(f"Pick the {label} {'file' if kind == 'file' else 'folder'}")

        def choose() -> None:
            start = editor.text().strip()
            if kind == "file":
                chosen, _ = QFileDialog.getOpenFileName(self, label, start)
            else:
                chosen = QFileDialog.getExistingDirectory(self, label, start)
            if chosen:
                editor.setText(chosen)
                editor.editingFinished.emit()

        button.clicked.connect(choose)
        self.choosers[editor] = button
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(editor, 1)
        layout.addWidget(button)
        return row

    def _editor(self, key: tuple[str, ...], hint: Any, optional: bool, value: Any, meta) -> Optional[QWidget]:  # noqa: C901
        choices = _choices(hint)
        origin = get_origin(hint)
        if choices is not None:
            editor = QComboBox()
            # "auto" may itself be a choice (train.device): the None entry needs its own words.
            unset = "(automatic)"
            editor.addItems(([unset] if optional else []) + [str(v) for v in choices])
            editor.setCurrentText(unset if value is None else str(value))
            editor.currentTextChanged.connect(self._edited)
            by_text = {str(v): v for v in choices}
            self._getters[key] = lambda e=editor: by_text.get(e.currentText())
            self._setters[key] = lambda v, e=editor: e.setCurrentText(unset if v is None else str(v))
        elif hint is bool:
            editor = QCheckBox()
            editor.setChecked(bool(value))
            editor.toggled.connect(self._edited)
            self._getters[key], self._setters[key] = editor.isChecked, lambda v, e=editor: e.setChecked(bool(v))
        elif hint is int:
            editor = self._int_editor(key, optional, value, meta)
        elif hint is float or (origin in (list, tuple) or hint is str):
            editor = QLineEdit()
            kind = "float" if hint is float else ("list" if origin in (list, tuple) else "str")
            item_type = (get_args(hint) or (float,))[0] if kind == "list" else None
            if optional:
                editor.setPlaceholderText(AUTO)
            elif kind == "list":
                editor.setPlaceholderText("comma-separated values")

            def show(v, e=editor, kind=kind) -> None:
                if v is None:
                    e.setText("")
                elif kind == "list":
                    e.setText(", ".join(_fmt(x) for x in v))
                else:
                    e.setText(_fmt(v))

            def read(e=editor, kind=kind, item_type=item_type):
                text = e.text().strip()
                if not text and optional:
                    return None
                if kind == "float":
                    try:
                        return float(text)
                    except ValueError:
                        return text  # from_dict names the key and what it expected
                if kind == "list":
                    return _parse_list(text, item_type)
                return e.text()

            show(value)
            editor.editingFinished.connect(self._edited)
            self._getters[key], self._setters[key] = read, show
        else:
            return None  # dict-valued and other free-form fields stay as they are
        tip = meta.get("help", "")
        bounds = meta.get("range")
        if bounds is not None:
            lo, hi = bounds
            unit = f" {meta['unit']}" if meta.get("unit") else ""
            span = f"{lo} to {hi}" if lo is not None and hi is not None else (f"≥ {lo}" if lo is not None else f"≤ {hi}")
            tip = f"{tip} Allowed: {span}{unit}.".strip()
        if optional:
            tip = f"{tip} Empty or {AUTO}: chosen automatically.".strip()
        editor.setToolTip(tip)
        self.editors[".".join(key)] = editor
        return editor

    def _int_editor(self, key, optional: bool, value: Any, meta) -> QSpinBox:
        editor = QSpinBox()
        lo, hi = meta.get("range") or (None, None)
        lo = -INT_LIMIT if lo is None else int(lo)
        hi = INT_LIMIT if hi is None else int(min(hi, INT_LIMIT))
        # An optional number's "auto" is one step below its least value, shown as text.
        floor = lo - 1 if optional else lo
        editor.setRange(max(floor, -INT_LIMIT), hi)
        if optional:
            editor.setSpecialValueText(AUTO)
        if meta.get("unit"):
            editor.setSuffix(f" {meta['unit']}")
        editor.setValue(editor.minimum() if value is None else int(value))
        editor.setKeyboardTracking(False)
        editor.valueChanged.connect(self._edited)
        self._getters[key] = lambda e=editor: None if optional and e.value() == e.minimum() else e.value()
        self._setters[key] = lambda v, e=editor: e.setValue(e.minimum() if v is None else int(v))
        return editor

    def values(self) -> dict:
        """The config as a dict: the current config with every editor's value laid over it."""
        data = to_dict(self.config)
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
        self._mark("")
        self._show_applicable()

    def _edited(self, *_args) -> None:
        if self.signalsBlocked():
            return
        values = self.values()
        try:
            config = from_dict(self.cls, values)
        except (ConfigError, ValueError, TypeError) as exc:
            self._mark(str(exc))
            self._show_applicable(values)
            self.invalid.emit(self.error)
            return
        self._mark("")
        self._show_applicable(values)
        self.config = config
        self.configChanged.emit(config)

    def _mark(self, error: str) -> None:
        """Outline the editor the error names (its dotted key opens the message)."""
        self.error = error
        named = _named_keys(error)
        for name, editor in self.editors.items():
            editor.setStyleSheet(INVALID_STYLE if _names(named, name) else "")


# A dotted key as an error writes it: at the start, or after a space or a colon ("run.toml: final.lr: ..."),
# never after a dot, so "final.train_limit" does not also name the top-level "train_limit".
_KEY = re.compile(r"(?:^|(?<=[\s:]))([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")


def _named_keys(error: str) -> frozenset[str]:
    """The dotted keys the head of ``error`` (before its first comma) could be naming."""
    return frozenset(_KEY.findall(error.split(",", 1)[0])) if error else frozenset()


def _names(named: frozenset[str], dotted: str) -> bool:
    """Whether an error naming ``named`` is about ``dotted`` or, for a group's row, a key below it."""
    return any(key == dotted or key.startswith(dotted + ".") for key in named)


def _parse_list(text: str, item_type: Any) -> list:
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if item_type is str:
        return parts
    convert = int if item_type is int else float
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
