"""Re-take the evaluation dashboard screenshot and the first pages of both reports.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/take_report_screenshots.py RUN_DIR

RUN_DIR is a BreastMNIST run folder (``medvision train --config examples/configs/breastmnist.toml``);
the case report uses the CBIS-DDSM four-view study in ``../shared/data`` and the shipped demo model.
Needs ImageMagick's ``import`` and poppler's ``pdftoppm``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CBIS = ROOT.parent / "shared" / "data" / "cbis-ddsm-P_00173"


def first_page(pdf: Path, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), f"{tmp}/page"], check=True)
        page = next(Path(tmp).glob("page*.png"))
        (HERE / name).write_bytes(page.read_bytes())
    print("wrote", HERE / name)


def main(run_dir: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer

    from medvision_app.gui.app import create_app
    from medvision_app.gui.dashboard import EvaluationDashboard
    from medvision_app.gui.theme import apply_theme
    from medvision_app.reports.case_report import write_case_report
    from medvision_app.reports.evaluation_report import write_evaluation_report

    with tempfile.TemporaryDirectory() as tmp:
        write_evaluation_report(run_dir, Path(tmp) / "eval.pdf")
        first_page(Path(tmp) / "eval.pdf", "evaluation-report.png")
        write_case_report(sorted(CBIS.glob("*.dcm")), "breastmnist", Path(tmp) / "case.pdf", deidentify=True)
        first_page(Path(tmp) / "case.pdf", "case-report.png")

    app = create_app(["medvision"])
    apply_theme(app, "light")
    dashboard = EvaluationDashboard(run_dir)
    dashboard.setGeometry(0, 0, 1400, 900)
    dashboard.show()

    def shoot() -> None:
        dashboard.operating.set_threshold(0.35)
        app.processEvents()
        QTimer.singleShot(800, lambda: (subprocess.run(
            ["import", "-window", "root", "-crop", "1400x900+0+0", str(HERE / "evaluation-dashboard.png")],
            check=True), print("wrote", HERE / "evaluation-dashboard.png"), app.exit(0)))

    dashboard.analysed.connect(shoot)
    QTimer.singleShot(120_000, lambda: app.exit(1))
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
