"""One control per preprocessing parameter, built from its ``ParamSpec``.

Bounded numbers get a slider and a spin box; a drag reports ``final=False``
on every move and ``final=True`` on release, so the preview can stay reduced
while the user drags and go to full resolution when they stop.
"""

from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QSlider,
    QSpinBox,
    QWidget,
)

from medvision_app.preprocessing import ParamSpec

_SLIDER_STEPS = 1000


class ParamControl(QWidget):
    changed = Signal(str, object, bool)  # name, value, final

    def __init__(self, spec: ParamSpec, value: Any, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.slider: Optional[QSlider] = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.setToolTip(spec.help)
        if spec.kind == "bool":
            self.editor = QCheckBox()
            self.editor.setChecked(bool(value))
            self.editor.toggled.connect(lambda v: self.changed.emit(spec.name, bool(v), True))
        elif spec.kind == "choice":
            self.editor = QComboBox()
            self.editor.addItems(list(spec.choices))
            self.editor.setCurrentText(str(value))
            self.editor.currentTextChanged.connect(lambda v: self.changed.emit(spec.name, v, True))
        else:
            self.editor = self._number_editor(spec, value)
            if self._has_slider(spec):
                self.slider = QSlider(Qt.Orientation.Horizontal)
                self.slider.setRange(0, _SLIDER_STEPS if spec.kind == "float" else int(spec.maximum - spec.minimum))
                self.slider.setValue(self._to_slider(value))
                self.slider.valueChanged.connect(self._on_slider_moved)
                self.slider.sliderReleased.connect(lambda: self.changed.emit(spec.name, self.value(), True))
                layout.addWidget(self.slider, 1)
            self.editor.editingFinished.connect(self._on_spin_edited)
        layout.addWidget(self.editor)

    @staticmethod
    def _has_slider(spec: ParamSpec) -> bool:
        if spec.minimum is None or spec.maximum is None:
            return False
        return spec.kind == "float" or (spec.maximum - spec.minimum) <= _SLIDER_STEPS

    @staticmethod
    def _number_editor(spec: ParamSpec, value: Any):
        lo = spec.minimum if spec.minimum is not None else -1e9
        hi = spec.maximum if spec.maximum is not None else 1e9
        if spec.kind == "int":
            editor = QSpinBox()
            editor.setRange(int(max(lo, -2**31 + 1)), int(min(hi, 2**31 - 1)))
            editor.setValue(int(value))
        else:
            editor = QDoubleSpinBox()
            editor.setDecimals(4 if hi - lo <= 10 else 2)
            editor.setRange(lo, hi)
            editor.setSingleStep((hi - lo) / 100 if hi - lo < 1e6 else 1.0)
            editor.setValue(float(value))
        editor.setKeyboardTracking(False)
        editor.setMinimumWidth(80)
        return editor

    def _to_slider(self, value: float) -> int:
        spec = self.spec
        if spec.kind == "int":
            return int(value - spec.minimum)
        return int(round((float(value) - spec.minimum) / (spec.maximum - spec.minimum) * _SLIDER_STEPS))

    def _from_slider(self, position: int) -> Any:
        spec = self.spec
        if spec.kind == "int":
            return int(spec.minimum + position)
        return spec.minimum + position / _SLIDER_STEPS * (spec.maximum - spec.minimum)

    def _on_slider_moved(self, position: int) -> None:
        value = self._from_slider(position)
        self.editor.blockSignals(True)
        self.editor.setValue(value)
        self.editor.blockSignals(False)
        # A keyboard step or a click on the groove is a finished edit; a drag is not.
        self.changed.emit(self.spec.name, value, not self.slider.isSliderDown())

    def _on_spin_edited(self) -> None:
        if self.slider is not None:
            self.slider.blockSignals(True)
            self.slider.setValue(self._to_slider(self.editor.value()))
            self.slider.blockSignals(False)
        self.changed.emit(self.spec.name, self.value(), True)

    def value(self) -> Any:
        if self.spec.kind == "bool":
            return self.editor.isChecked()
        if self.spec.kind == "choice":
            return self.editor.currentText()
        return int(self.editor.value()) if self.spec.kind == "int" else float(self.editor.value())


class ParamForm(QWidget):
    """The controls of one operation's parameters."""

    changed = Signal(str, object, bool)

    def __init__(self, specs: tuple[ParamSpec, ...], values: dict[str, Any], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.controls: dict[str, ParamControl] = {}
        for spec in specs:
            control = ParamControl(spec, values.get(spec.name, spec.default))
            control.changed.connect(self.changed)
            self.controls[spec.name] = control
            form.addRow(spec.name.replace("_", " "), control)
