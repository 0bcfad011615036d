"""The data, preprocessing and model pages of the training wizard.

Each page edits the wizard's configs (``wizard.train_cfg``,
``wizard.search_cfg``) and blocks Next with the reason while its input
cannot train. Questions that need torch or many files (the data's classes,
a network's size) go to a probe process through a worker thread.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from medvision_app import extras
from medvision_app.data.config import FORMATS, DataConfig
from medvision_app.gui.augmentation_panel import AugmentationPanel
from medvision_app.gui.config_form import ConfigForm
from medvision_app.gui.preprocessing_panel import PreprocessingPanel
from medvision_app.gui.workers import start_worker
from medvision_app.jobs.probe import decode_thumb, probe_in_child
from medvision_app.search.config import BBNAS_METHODS, candidates_on_ray
from medvision_app.utils.config_io import ConfigError, from_dict, to_dict

ERROR_STYLE = "color: #e74c3c;"
DEBOUNCE_MS = 400


def _pixmap(pixels: np.ndarray, side: int) -> QPixmap:
    """A thumbnail, grey (h, w) or colour (h, w, 3) uint8, as a pixmap at most ``side`` a side."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w = pixels.shape[:2]
    if pixels.ndim == 3:
        image = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    else:
        image = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(image).scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation)


def _problems_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(ERROR_STYLE)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


AUTO_GROUP = "automatic"


def candidates_run_on(cfg) -> str:
    """Where a search's candidates train, in words (the summary and the model page say it)."""
    if not candidates_on_ray(cfg.method, cfg.executor):
        return "this machine"
    return f"the Ray cluster at {cfg.ray.address}" if cfg.ray.address else "a Ray instance started on this machine"


class DataPage(QWizardPage):
    """Where the images are, how they split; classes with counts and thumbnails; why they cannot train."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setTitle("Data")
        self.setSubTitle("A folder of class folders, a CSV manifest, a MedMNIST .npz or a HAM10000-style folder.")
        self.path = QLineEdit()
        self.path.setPlaceholderText("path to the data")
        file_button, folder_button = QPushButton("File…"), QPushButton("Folder…")
        file_button.clicked.connect(self._browse_file)
        folder_button.clicked.connect(self._browse_folder)
        self.format = QComboBox()
        self.format.addItems(list(FORMATS))
        self.ratios = [QDoubleSpinBox() for _ in range(3)]
        for box in self.ratios:
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.05)
            box.setDecimals(2)
        self.predefined = QCheckBox("use the source's own split when it has one")
        # CSV manifests: which column keeps a patient's (or lesion's) images on one side of the split
        self.group = QComboBox()
        self.group.addItem(AUTO_GROUP, None)
        self.group.setToolTip("CSV manifests: the column of patient or lesion IDs whose images must not fall "
                              "on both sides of the split (automatic: group, patient_id or lesion_id)")
        self.group.setEnabled(False)
        self.limit = QSpinBox()
        self.limit.setRange(0, 10_000_000)
        self.limit.setSpecialValueText("all")
        self.limit.setToolTip("At most this many images per split (quick trials)")
        self.status = QLabel()
        self.problems = _problems_label()
        self.classes = QTableWidget(0, 5)
        self.classes.setHorizontalHeaderLabels(["class", "images", "train", "val", "test"])
        self.classes.verticalHeader().setVisible(False)
        self.classes.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.thumbs = QWidget()
        self.thumb_grid = QGridLayout(self.thumbs)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(file_button)
        row.addWidget(folder_button)
        split_row = QHBoxLayout()
        split_row.addWidget(QLabel("format"))
        split_row.addWidget(self.format)
        for name, box in zip(("train", "val", "test"), self.ratios, strict=True):
            split_row.addWidget(QLabel(name))
            split_row.addWidget(box)
        split_row.addWidget(QLabel("limit"))
        split_row.addWidget(self.limit)
        split_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(split_row)
        group_row = QHBoxLayout()
        group_row.addWidget(self.predefined)
        group_row.addSpacing(12)
        group_row.addWidget(QLabel("group by"))
        group_row.addWidget(self.group)
        group_row.addStretch(1)
        layout.addLayout(group_row)
        layout.addWidget(self.status)
        layout.addWidget(self.problems)
        body = QHBoxLayout()
        body.addWidget(self.classes, 2)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.thumbs)
        body.addWidget(scroll, 3)
        layout.addLayout(body, 1)
        self.result: Optional[dict] = None
        self._asked: Optional[dict] = None  # the payload the last answer was for
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS, timeout=self.inspect)
        for signal in (self.path.textChanged, self.format.currentTextChanged, self.predefined.toggled,
                       self.group.currentIndexChanged,
                       self.limit.valueChanged, *(b.valueChanged for b in self.ratios)):
            signal.connect(self._changed)

    def initializePage(self) -> None:
        wizard = self.wizard()
        data = wizard.train_cfg.data
        path = wizard.search_cfg.data if wizard.kind == "search" else data.path
        widgets = (self.path, self.format, self.predefined, self.limit, self.group, *self.ratios)
        for w in widgets:
            w.blockSignals(True)
        self.path.setText(path)
        self._set_group_choices([data.group_column] if data.group_column else [], data.group_column)
        self.format.setCurrentText(data.format)
        self.predefined.setChecked(data.split.use_predefined)
        self.limit.setValue(data.limit or 0)
        for box, value in zip(self.ratios, data.split.ratios, strict=True):
            box.setValue(value)
        for w in widgets:
            w.blockSignals(False)
        self._changed()

    def data_config(self) -> DataConfig:
        """The page's data section on top of the wizard's (image root, metadata and skip policy kept)."""
        base = to_dict(self.wizard().train_cfg.data)
        base.update(path=self.path.text().strip(), format=self.format.currentText(),
                    limit=self.limit.value() or None, group_column=self.group.currentData())
        base["split"].update(ratios=[round(b.value(), 4) for b in self.ratios],
                             use_predefined=self.predefined.isChecked())
        return from_dict(DataConfig, base, where="data")

    def _changed(self, *_args) -> None:
        self.result = None
        self._timer.start()
        self.completeChanged.emit()

    def inspect(self) -> None:
        try:
            data = self.data_config()
        except ConfigError as exc:
            self._show_problems([str(exc)])
            return
        if not data.path:
            self._show_problems(["no data given: choose a file or folder"])
            return
        payload = {"data": to_dict(data), "config_file": self.wizard().config_file}
        self._asked = payload
        self.status.setText("Inspecting the data…")
        self.problems.setText("")
        start_worker(probe_in_child, "inspect", payload, on_returned=lambda r, p=payload: self._answered(p, r),
                     on_errored=lambda exc, p=payload: self._answered(p, {"problems": [str(exc)]}), owner=self)

    def _set_group_choices(self, columns: list[str], chosen: Optional[str]) -> None:
        self.group.blockSignals(True)
        self.group.clear()
        self.group.addItem(AUTO_GROUP, None)
        for column in columns:
            if column not in ("path", "label", "split"):
                self.group.addItem(column, column)
        self.group.setCurrentIndex(max(0, self.group.findData(chosen)) if chosen else 0)
        self.group.setEnabled(bool(columns))
        self.group.blockSignals(False)

    def _answered(self, payload: dict, result: dict) -> None:
        if payload is not self._asked:
            return  # an answer for data no longer chosen
        self.result = result
        if "columns" in result or self.group.isEnabled():
            self._set_group_choices(result.get("columns") or [], payload["data"].get("group_column"))
        self._show(result)
        self.completeChanged.emit()

    def _show_problems(self, problems: list[str]) -> None:
        self.result = {"problems": problems}
        self.status.setText("")
        self.problems.setText("Cannot train on this data:\n• " + "\n• ".join(problems))
        self.completeChanged.emit()

    def _show(self, result: dict) -> None:
        problems = result.get("problems") or []
        splits = result.get("splits") or {}
        classes = result.get("classes") or []
        self.classes.setRowCount(len(classes))
        for r, name in enumerate(classes):
            values = [name, result["counts"][r]] + [splits.get(s, [None] * len(classes))[r] for s in ("train", "val", "test")]
            for c, value in enumerate(values):
                self.classes.setItem(r, c, QTableWidgetItem("-" if value is None else str(value)))
        self.classes.resizeColumnsToContents()
        while self.thumb_grid.count():
            item = self.thumb_grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for r, (name, thumbs) in enumerate(zip(classes, result.get("thumbnails") or [], strict=False)):
            self.thumb_grid.addWidget(QLabel(name), r, 0)
            for c, thumb in enumerate(thumbs):
                label = QLabel()
                label.setPixmap(_pixmap(decode_thumb(thumb), 72))
                self.thumb_grid.addWidget(label, r, c + 1)
        if problems:
            self.status.setText("")
            self.problems.setText("Cannot train on this data:\n• " + "\n• ".join(problems))
        else:
            total = sum(result.get("counts") or [])
            grouped = f", grouped by {result['group_column']}" if result.get("group_column") else (
                ", grouped by patient/lesion" if result.get("grouped") else ", not grouped (no patient column)")
            how = "the source's own split" if result.get("predefined") else "split by ratio" + grouped
            self.status.setText(f"{len(classes)} classes, {total} images; {how}")
            self.problems.setText("")

    def isComplete(self) -> bool:
        return bool(self.result) and "classes" in self.result and not self.result.get("problems")

    def validatePage(self) -> bool:
        wizard = self.wizard()
        data = self.data_config()
        if wizard.kind == "search":
            wizard.search_cfg = dataclasses.replace(wizard.search_cfg, data=data.path,
                                                    train_limit=data.limit or 0)
        wizard.train_cfg = dataclasses.replace(wizard.train_cfg, data=data)
        wizard.data_facts = self.result
        return True

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Data file", "", "Data (*.npz *.csv);;All files (*)")
        if path:
            self.path.setText(path)

    def _browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Data folder")
        if path:
            self.path.setText(path)


class PrepPage(QWizardPage):
    """The preprocessing pipeline and the augmentation, previewed on an image of the chosen data."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setTitle("Preprocessing and augmentation")
        self.setSubTitle("Preprocessing runs once per image; augmentation draws new variants of training images.")
        self.preprocessing = PreprocessingPanel()
        self.augmentation = AugmentationPanel()
        tabs = QTabWidget()
        tabs.addTab(self.preprocessing, "Preprocessing")
        tabs.addTab(self.augmentation, "Augmentation")
        # The previews' natural size made the wizard 1015 px tall, its buttons below a 768 px screen.
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(tabs)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)

    def initializePage(self) -> None:
        wizard = self.wizard()
        cfg = wizard.train_cfg
        self.preprocessing.config = cfg.preprocessing
        self.preprocessing._refresh_steps(0)
        self.augmentation.set_config(cfg.augmentation)
        preview = (wizard.data_facts or {}).get("preview")
        if preview is not None:
            image = decode_thumb(preview).astype(np.float32) / 255.0
            self.preprocessing.set_source(image)
            self.augmentation.set_source(image)

    def validatePage(self) -> bool:
        wizard = self.wizard()
        wizard.train_cfg = dataclasses.replace(wizard.train_cfg, preprocessing=self.preprocessing.config,
                                               augmentation=self.augmentation.config)
        return True


class ModelPage(QWizardPage):
    """Network and training settings (or the search's), checked as typed; the network's size from a probe."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setTitle("Model and training")
        self.errors = _problems_label()
        self.size = QLabel()
        # The search form's executor, as the two places a user thinks of; the Ray address is in the form.
        self.where = QComboBox()
        self.where.addItem("this machine")
        self.where.addItem("a Ray cluster")
        if not extras.available("cluster"):
            self.where.model().item(1).setEnabled(False)
            self.where.setItemData(1, extras.message("cluster", "Searching on a Ray cluster"),
                                   Qt.ItemDataRole.ToolTipRole)
        self.where.currentIndexChanged.connect(self._where_changed)
        self.where_label = QLabel("candidates run on")
        self.holder = QVBoxLayout()
        content = QWidget()
        content.setLayout(self.holder)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        where_row = QHBoxLayout()
        where_row.addWidget(self.where_label)
        where_row.addWidget(self.where)
        where_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.size)
        layout.addLayout(where_row)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.errors)
        self.forms: dict[str, ConfigForm] = {}
        self.estimate: Optional[dict] = None
        self._asked: Optional[dict] = None
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS * 2, timeout=self.ask_estimate)

    def initializePage(self) -> None:
        wizard = self.wizard()
        while self.holder.count():
            item = self.holder.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        search = wizard.kind == "search"
        self.where.setVisible(search)
        self.where_label.setVisible(search)
        if search:
            self.forms = {"search": ConfigForm(wizard.search_cfg, hide=("data",))}
        else:
            self.forms = {"model": ConfigForm(wizard.train_cfg.model), "train": ConfigForm(wizard.train_cfg.train)}
        for name, form in self.forms.items():
            title = QLabel(f"<b>{name}</b>")
            self.holder.addWidget(title)
            self.holder.addWidget(form)
            form.configChanged.connect(self._edited)
            form.invalid.connect(self._edited)
        self.holder.addStretch(1)
        self._edited()

    def form_errors(self) -> list[str]:
        return [f"{name}: {form.error}" for name, form in self.forms.items() if form.error]

    def _edited(self, *_args) -> None:
        errors = self.form_errors()
        self.errors.setText("\n".join(errors))
        if not errors and self.wizard().kind == "train":
            self.estimate = None
            self.size.setText("Measuring the network…")
            self._timer.start()
        elif self.wizard().kind == "search":
            cfg = self.forms["search"].config
            budget = f"{cfg.budget_seconds / 60:g} min" if cfg.budget_seconds else "no time limit"
            if cfg.method in BBNAS_METHODS:
                its = f"{cfg.max_iterations} iterations" if cfg.max_iterations else "until the stopping rule"
                plan = f"{its}, {cfg.workers} worker(s)"
            else:  # ENAS has no iterations or workers: max_iterations, when set, caps its shared epochs
                plan = f"{cfg.max_iterations or cfg.enas.epochs} shared epochs"
            self.size.setText(f"{cfg.method}: {budget}, {plan}; candidates run on {candidates_run_on(cfg)}")
            self.where.blockSignals(True)
            self.where.setCurrentIndex(1 if cfg.executor == "ray" else 0)
            self.where.blockSignals(False)
            self.where.setVisible(cfg.method in BBNAS_METHODS)  # ENAS trains in the job's own process
            self.where_label.setVisible(cfg.method in BBNAS_METHODS)
        self.completeChanged.emit()

    def _where_changed(self, index: int) -> None:
        form = self.forms.get("search")
        if form is None:
            return
        cfg = form.config
        executor = "ray" if index == 1 else ("auto" if cfg.executor == "ray" else cfg.executor)
        if executor != cfg.executor:
            form.set_config(dataclasses.replace(cfg, executor=executor))
            self._edited()

    def train_config(self):
        wizard = self.wizard()
        return dataclasses.replace(wizard.train_cfg, model=self.forms["model"].config, train=self.forms["train"].config)

    def ask_estimate(self) -> None:
        if self.wizard().kind != "train" or self.form_errors():
            return
        facts = self.wizard().data_facts or {}
        payload = {"config": to_dict(self.train_config()), "classes": len(facts.get("classes") or [0, 0]),
                   "train_samples": sum((facts.get("splits") or {}).get("train") or [0])}
        self._asked = payload
        start_worker(probe_in_child, "estimate", payload, on_returned=lambda r, p=payload: self._estimated(p, r),
                     on_errored=lambda exc, p=payload: self._estimated(p, {"error": str(exc)}), owner=self)

    def _estimated(self, payload: dict, result: dict) -> None:
        if payload is not self._asked:
            return
        self.estimate = result
        self.wizard().estimate = result
        if result.get("error"):
            self.size.setText("")
            self.errors.setText(f"This network cannot be built: {result['error']}")
        else:
            self.size.setText(f"{result['params']:,} parameters, {result['macs'] * 2 / 1e9:.3f} GFLOPs per image "
                              f"(2 x {result['macs'] / 1e6:,.1f} M multiply-adds)")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        if self.form_errors():
            return False
        return not (self.estimate or {}).get("error")

    def validatePage(self) -> bool:
        wizard = self.wizard()
        if wizard.kind == "search":
            wizard.search_cfg = dataclasses.replace(self.forms["search"].config, data=wizard.search_cfg.data)
        else:
            wizard.train_cfg = self.train_config()
        return True

