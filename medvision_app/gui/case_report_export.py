"""Export case report...: where to write it and whether to de-identify, then the core writes it in a worker.

The images are predicted again by :func:`medvision_app.reports.case_analysis.analyse_case`
(about a second for a four-view study), so the report holds exactly what the
command line would write for the same files and model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from medvision_app.gui.workers import start_worker


class CaseReportDialog(QDialog):
    def __init__(self, n_images: int, model_name: str, default: Path, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export case report")
        self.path_edit = QLineEdit(str(default))
        browse = QPushButton("Browse…")
        self.deidentify_box = QCheckBox("De-identify (DICOM PS3.15 Annex E Basic Profile)")
        self.mask_box = QCheckBox("Mask a border band of images likely to carry burned-in text")
        self.mask_box.setEnabled(False)
        self.deidentify_box.toggled.connect(self.mask_box.setEnabled)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{n_images} image(s), model {model_name}. The report is decision support for "
                                "research use, not a diagnosis."))
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        layout.addLayout(row)
        layout.addWidget(self.deidentify_box)
        layout.addWidget(self.mask_box)
        layout.addWidget(buttons)
        browse.clicked.connect(self._browse)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Case report", self.path_edit.text(), "PDF (*.pdf)")
        if path:
            self.path_edit.setText(path if path.lower().endswith(".pdf") else path + ".pdf")

    def options(self) -> dict:
        return {"deidentify": self.deidentify_box.isChecked(),
                "mask_burned_in": self.deidentify_box.isChecked() and self.mask_box.isChecked()}


def write_case_report_job(paths: Sequence[Path], model: Path, out: Path, options: dict) -> Path:
    from medvision_app.reports.case_analysis import analyse_case
    from medvision_app.reports.case_report import build_case_report
    from medvision_app.reports.pdf import write_pdf

    facts = analyse_case(list(paths), model, keep_going=True, **options)
    return write_pdf(out, build_case_report(facts))


def export_case_report(parent: QWidget, paths: Sequence[Path], model: Optional[Path], *,
                       on_done: Optional[Callable[[Path], None]] = None,
                       on_error: Optional[Callable[[BaseException], None]] = None) -> Optional[CaseReportDialog]:
    """Ask where to write the report of ``paths`` predicted by ``model`` and write it off the GUI thread."""
    if not paths or model is None:
        if on_error is not None:
            on_error(ValueError("analyse images with a model first; the report covers the analysed images"))
        return None
    default = Path(paths[0]).parent / "case-report.pdf"
    dialog = CaseReportDialog(len(paths), Path(model).stem, default, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    out = Path(dialog.path_edit.text())
    start_worker(write_case_report_job, list(paths), Path(model), out, dialog.options(),
                 on_returned=on_done, on_errored=on_error, owner=parent)
    return dialog
