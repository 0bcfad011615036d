"""Tools > New training or search…: a QWizard from a task or a paper's preset to a launched job.

Pages: task (and presets), data, preprocessing and augmentation (training
only), model and training (or the search's settings), device and summary
(the detected device, the time per epoch from a two-batch dry run, the
TOML that will run, Launch). The wizard only gathers a :class:`JobSpec`;
the job monitor runs it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional

import tomllib
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from medvision_app.gui.window_geometry import clamp_frame
from medvision_app.gui.wizard_pages import DataPage, ModelPage, PrepPage, _problems_label, candidates_run_on
from medvision_app.jobs import JobSpec, default_run_dir
from medvision_app.jobs.presets import PRESETS, preset
from medvision_app.jobs.track import format_seconds
from medvision_app.search.config import METHODS, SearchConfig
from medvision_app.training.config import TrainConfig
from medvision_app.utils.atomic import atomic_write_text
from medvision_app.utils.config_io import ConfigError, dumps, from_dict, load_config, loads, to_dict

TASK, DATA, PREP, MODEL, SUMMARY = range(5)


def toml_text(kind: str, config) -> str:
    """The TOML ``medvision train --config`` (or ``medvision search --config``) takes for ``config``."""
    data = to_dict(config)
    if kind == "train":
        data.pop("run", None)  # the run's facts are the run's to write
    return dumps(data, "toml")


def _top_level_keys(path: Path) -> set:
    """The top-level keys of a TOML or JSON file (empty when it does not parse: loading it says why)."""
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except ValueError:
        return set()
    return set(data) if isinstance(data, dict) else set()


class TaskPage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setTitle("Task")
        self.setSubTitle("Train a classifier or search an architecture; start from a paper's recipe in one click.")
        self.train = QRadioButton("Train a classifier (transfer learning, or P-NET from scratch)")
        self.search = QRadioButton("Search an architecture")
        group = QButtonGroup(self)
        group.addButton(self.train)
        group.addButton(self.search)
        self.method = QComboBox()
        self.method.addItems(list(METHODS))
        self.presets = QListWidget()
        for p in PRESETS:
            item = QListWidgetItem(f"{p.title}\n    {p.paper}  ({p.file})")
            item.setData(256, p.key)
            self.presets.addItem(item)
        self.presets.itemClicked.connect(lambda item: self.apply_preset(item.data(256)))
        self.config_path = QLineEdit()
        self.config_path.setPlaceholderText("or load a .toml / .json config")
        load = QPushButton("Load…")
        load.clicked.connect(self._browse)
        self.config_path.returnPressed.connect(lambda: self.load_file(self.config_path.text()))
        self.chosen = QLabel()
        self.error = _problems_label()
        method_row = QHBoxLayout()
        method_row.addWidget(self.search)
        method_row.addWidget(self.method)
        method_row.addStretch(1)
        load_row = QHBoxLayout()
        load_row.addWidget(self.config_path, 1)
        load_row.addWidget(load)
        layout = QVBoxLayout(self)
        layout.addWidget(self.train)
        layout.addLayout(method_row)
        layout.addWidget(QLabel("Presets (the five papers' recipes):"))
        layout.addWidget(self.presets, 1)
        layout.addLayout(load_row)
        layout.addWidget(self.chosen)
        layout.addWidget(self.error)
        self.train.toggled.connect(self._kind_changed)
        self.method.currentTextChanged.connect(self._kind_changed)

    def initializePage(self) -> None:
        wizard = self.wizard()
        # Showing the wizard's state is not a user's choice: with the signals on, checking the
        # radio button wrote the method box's previous entry over a loaded preset's method.
        for widget in (self.train, self.search, self.method):
            widget.blockSignals(True)
        try:
            self.method.setCurrentText(wizard.search_cfg.method)
            (self.search if wizard.kind == "search" else self.train).setChecked(True)
        finally:
            for widget in (self.train, self.search, self.method):
                widget.blockSignals(False)
        self.method.setEnabled(wizard.kind == "search")

    def _kind_changed(self, *_args) -> None:
        wizard = self.wizard()
        if wizard is None:
            return
        wizard.kind = "search" if self.search.isChecked() else "train"
        if wizard.kind == "search" and self.method.currentText() != wizard.search_cfg.method:
            wizard.search_cfg = dataclasses.replace(wizard.search_cfg, method=self.method.currentText())
        self.method.setEnabled(wizard.kind == "search")

    def apply_preset(self, key: str) -> None:
        p = preset(key)
        self.wizard().load_config(p.kind, p.config(), str(p.path))
        self.chosen.setText(f"Preset: {p.title} — {p.paper}")
        self.error.setText("")
        self.initializePage()

    def load_file(self, text: str) -> bool:
        """Load a config file; a file that is not one is refused with the reason."""
        path = Path(text.strip())
        try:
            # A search config names its method; anything else is read as a training config.
            kind = "search" if "method" in _top_level_keys(path) else "train"
            config = load_config(SearchConfig if kind == "search" else TrainConfig, path)
        except (OSError, ConfigError) as exc:
            reason = exc if isinstance(exc, ConfigError) else f"{path}: cannot read: {exc.strerror or exc}"
            self.error.setText(f"Not loaded: {reason}")
            return False
        self.wizard().load_config(kind, config, str(path))
        self.chosen.setText(f"Loaded {path}")
        self.error.setText("")
        self.initializePage()
        return True

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Config", "", "Configs (*.toml *.json)")
        if path:
            self.config_path.setText(path)
            self.load_file(path)


class SummaryPage(QWizardPage):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setTitle("Device and summary")
        self.device = QLabel()
        self.device.setWordWrap(True)
        self.out = QLineEdit()
        self.toml = QPlainTextEdit()
        self.toml.setReadOnly(True)
        save = QPushButton("Save TOML…")
        save.clicked.connect(self._save_dialog)
        self.error = _problems_label()
        self.out.textChanged.connect(self._check_out)
        row = QHBoxLayout()
        row.addWidget(QLabel("run folder"))
        row.addWidget(self.out, 1)
        row.addWidget(save)
        layout = QVBoxLayout(self)
        layout.addWidget(self.device)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(self.toml, 1)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Launch")

    def initializePage(self) -> None:
        wizard = self.wizard()
        config = wizard.config()
        self.toml.setPlainText(toml_text(wizard.kind, config))
        if not self.out.text() or self.out.property("auto"):
            self.out.setText(str(Path(default_run_dir(wizard.kind, {"model": {"name": wizard.train_cfg.model.name},
                                                                     "method": wizard.search_cfg.method})).resolve()))
            self.out.setProperty("auto", True)
        self.device.setText(self._device_text())

    def _device_text(self) -> str:
        wizard = self.wizard()
        est = wizard.estimate or {}
        if wizard.kind == "search":
            cfg = wizard.search_cfg
            return f"Search {cfg.method} on device {cfg.device}; candidates run on {candidates_run_on(cfg)}."
        if not est or est.get("error"):
            return "Device and time per epoch: not measured (the network could not be built)." if est else \
                "Device and time per epoch: measuring…"
        device = est.get("device_name", est.get("device", ""))
        if est.get("device_memory_gb"):
            device += f", {est['device_memory_gb']:.0f} GB"
        per_epoch = est.get("seconds_per_epoch")
        epochs = wizard.train_cfg.train.epochs
        timing = (f"about {format_seconds(per_epoch)} per epoch, {format_seconds(per_epoch * epochs)} for "
                  f"{epochs} epochs (two-batch dry run: {est['seconds_per_batch'] * 1000:.0f} ms per batch)"
                  if per_epoch else "")
        return f"Device: {device}. {timing}"

    def _check_out(self, *_args) -> None:
        self.out.setProperty("auto", False)
        folder = Path(self.out.text().strip() or ".")
        held = [n for n in ("config.json", "state.json") if (folder / n).exists()]
        self.error.setText(f"{folder} already holds a run ({held[0]}): choose another folder" if held else
                           ("" if self.out.text().strip() else "no run folder given"))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return bool(self.out.text().strip()) and not self.error.text()

    def save_toml(self, path: Path) -> None:
        atomic_write_text(Path(path), self.toml.toPlainText())

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save config", "config.toml", "TOML (*.toml)")
        if path:
            self.save_toml(Path(path))


class TrainingWizard(QWizard):
    """Gathers one job. ``spec()`` after ``accepted``; ``load_spec`` pre-fills it (Duplicate)."""

    def __init__(self, parent=None, *, spec: Optional[JobSpec] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New training or search")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.resize(1000, 720)
        self.kind = "train"
        self.train_cfg = TrainConfig()
        self.search_cfg = SearchConfig()
        self.config_file: Optional[str] = None
        self.data_facts: Optional[dict] = None
        self.estimate: Optional[dict] = None
        self.task_page, self.data_page, self.prep_page = TaskPage(), DataPage(), PrepPage()
        self.model_page, self.summary_page = ModelPage(), SummaryPage()
        for page_id, page in ((TASK, self.task_page), (DATA, self.data_page), (PREP, self.prep_page),
                              (MODEL, self.model_page), (SUMMARY, self.summary_page)):
            self.setPage(page_id, page)
        if spec is not None:
            self.load_spec(spec)
        self.currentIdChanged.connect(lambda _id: self.fit_screen())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.fit_screen()

    def fit_screen(self) -> None:
        """Keep the whole wizard, its Next and Launch buttons included, on the screen it is on."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return
        frame = self.frameGeometry()
        fitted = clamp_frame(frame, [screen.availableGeometry()])
        if fitted != frame:
            extra_w, extra_h = frame.width() - self.width(), frame.height() - self.height()
            self.resize(fitted.width() - extra_w, fitted.height() - extra_h)
            self.move(fitted.topLeft())

    def nextId(self) -> int:
        current = self.currentId()
        if current == DATA and self.kind == "search":
            return MODEL  # a search brings its own pipeline
        return super().nextId()

    def load_config(self, kind: str, config, config_file: Optional[str] = None) -> None:
        """Start from ``config`` (a dict or a dataclass) of ``kind``."""
        self.kind = kind
        cls = SearchConfig if kind == "search" else TrainConfig
        obj = config if isinstance(config, cls) else from_dict(cls, config, where=config_file or kind)
        if kind == "search":
            self.search_cfg = obj
        else:
            self.train_cfg = obj
        self.config_file = config_file
        self.estimate = None

    def load_spec(self, spec: JobSpec) -> None:
        self.load_config(spec.kind, spec.config, spec.config_file)
        self.task_page.chosen.setText(f"Duplicate of {spec.name}")

    def config(self):
        return self.search_cfg if self.kind == "search" else self.train_cfg

    def spec(self) -> JobSpec:
        """The job to run: the exact config the TOML shows, into the chosen run folder."""
        config = loads(SearchConfig if self.kind == "search" else TrainConfig,
                       self.summary_page.toml.toPlainText(), "toml", source="wizard")
        return JobSpec(self.kind, to_dict(config), self.summary_page.out.text().strip(), config_file=self.config_file)

