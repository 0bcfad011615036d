"""`medvision gui` and `medvision PATH...`; the CBIS-DDSM four-view in the workstation."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402

from medvision_app.cli import gui_cmd  # noqa: E402
from medvision_app.cli.main import build_parser, main  # noqa: E402
from medvision_app.gui.workers import running_workers  # noqa: E402
from medvision_app.imaging.hanging import MAMMO_FOUR_VIEW  # noqa: E402


def test_gui_command_parses_sample_and_paths(tmp_path):
    args = build_parser().parse_args(["gui", "--sample", str(tmp_path)])
    assert args.func is gui_cmd.run and args.sample and args.paths == [tmp_path]


def test_bare_path_is_opened_in_the_gui(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("medvision_app.gui.app.run", lambda paths, sample=False: seen.update(paths=paths) or 0)
    assert main([str(tmp_path)]) == 0
    assert seen["paths"] == [tmp_path]


def test_missing_path_is_a_one_line_error(capsys, tmp_path):
    assert main(["gui", str(tmp_path / "nope.dcm")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "nope.dcm" in err and "\n" not in err


def test_first_run_opens_the_sample_study(qtbot, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QApplication

    from medvision_app.gui.app import run
    from medvision_app.gui.main_window import MainWindow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDVISION_GUI_SMOKE", "300")
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    assert run([], sample=True, settings=settings) == 0
    window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.settings is settings)
    qtbot.addWidget(window)
    # generous: the sample study is written and decoded first, and a loaded CI machine is slow
    qtbot.waitUntil(lambda: not window.grid.is_loading() and window.grid.hanging is not None, timeout=60000)
    assert (tmp_path / "cache" / "medvision" / "sample-study" / "CT_small.dcm").is_file()
    assert window.grid.hanging.protocol == MAMMO_FOUR_VIEW
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=60000)


@pytest.mark.shared
def test_cbis_ddsm_four_view_hangs_with_chest_walls_facing(qtbot, shared_data, tmp_path):
    from medvision_app.gui.main_window import MainWindow

    window = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    window.open_paths([shared_data / "cbis-ddsm-P_00173"])
    qtbot.waitUntil(lambda: window.grid.hanging is not None and not window.grid.is_loading(), timeout=60000)
    viewports = window.grid.visible_viewports()
    assert window.grid.hanging.protocol == MAMMO_FOUR_VIEW
    assert [v.label for v in viewports] == ["RCC", "LCC", "RMLO", "LMLO"]
    from medvision_app.imaging.hanging import chest_wall_side

    for viewport, side in zip(viewports, ["right", "left", "right", "left"]):
        shown = viewport.display_array()
        # What is on screen (after any mirroring) has its chest wall towards the middle.
        on_screen = shown[:, ::-1] if viewport.auto_flip_h != viewport.user_flip_h else shown
        assert chest_wall_side(on_screen) == side
        assert max(shown.shape) <= 1200  # a reduced image goes to the screen first
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=60000)
