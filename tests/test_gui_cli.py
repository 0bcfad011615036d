"""`medvision gui` and `medvision PATH...`; the CBIS-DDSM four-view in the workstation."""

from __future__ import annotations

import os
from pathlib import Path

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


def _smoke_run_of_the_sample(qtbot, monkeypatch, tmp_path, caplog):
    """``medvision gui --sample`` as CI's smoke run does it; the window it showed, still open."""
    from PySide6.QtWidgets import QApplication

    from medvision_app.gui.app import run
    from medvision_app.gui.main_window import MainWindow

    # the app leaves as soon as the study is on screen; the limit only bounds a failure
    monkeypatch.setenv("MEDVISION_GUI_SMOKE", "120000")
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    caplog.set_level("INFO", logger="medvision_app.gui.app")
    assert run([], sample=True, settings=settings) == 0
    assert "smoke run: leaving, on screen" in caplog.messages
    window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.settings is settings)
    qtbot.addWidget(window)
    assert window.grid.hanging is not None, f"no study was shown; notifications: {window.notifications.visible_messages()}"
    assert window.grid.hanging.protocol == MAMMO_FOUR_VIEW
    assert not window.grid.is_loading()
    _assert_left_usable(window)
    return window


def _assert_left_usable(window) -> None:
    """A smoke run leaves the event loop without closing windows.

    With Qt 6's quit() the window closed and, some time later, every event
    loop in the process began to return at once: pytest-qt's waits then never
    delivered a worker's result, and the next GUI test hung.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    assert window.isVisible()
    for _ in range(2):
        fired = []
        loop = QEventLoop()
        QTimer.singleShot(0, lambda: (fired.append(True), loop.quit()))
        loop.exec()
        assert fired, "after the smoke run, event loops return without processing events"


def test_first_run_opens_the_sample_study(qtbot, monkeypatch, tmp_path, caplog):
    from medvision_app.samples import SampleUnavailable, sample_folder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    window = _smoke_run_of_the_sample(qtbot, monkeypatch, tmp_path, caplog)
    shown = {path for _meta, path in window.grid.items}
    try:
        real = sample_folder("cbis-ddsm")
    except SampleUnavailable:  # the fallback: the phantom written to the cache
        assert (tmp_path / "cache" / "medvision" / "sample-study" / "CT_small.dcm").is_file()
    else:  # the real CBIS-DDSM study, opened where the package installed it
        assert shown == set(real.glob("*.dcm"))
        assert not (tmp_path / "cache" / "medvision" / "sample-study").exists()
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=60000)


def test_smoke_run_leaves_once_a_slowly_scanned_sample_is_shown(qtbot, monkeypatch, tmp_path, caplog):
    """With the sample already written, the scan is under way when a fixed-delay quit used to land and cancel it."""
    import time

    import medvision_app.gui.study_browser as study_browser
    from medvision_app.samples import ensure_sample_study

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ensure_sample_study()
    index_files = study_browser.index_files

    def slow_index(*args, **kwargs):
        time.sleep(1.0)
        return index_files(*args, **kwargs)

    monkeypatch.setattr(study_browser, "index_files", slow_index)
    _smoke_run_of_the_sample(qtbot, monkeypatch, tmp_path, caplog)
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=60000)


_ORPHAN_PARENT = """
import os, sys
from pathlib import Path
from medvision_app.gui import decoder
if __name__ == "__main__":
    decoder.load_thumbnail(Path(sys.argv[1]), 32)
    print(" ".join(str(pid) for pid in decoder._pool._processes), flush=True)
    os._exit(0)  # as if killed: no shutdown of the helpers
"""


def test_decoder_helpers_leave_when_the_app_dies(tmp_path):
    import subprocess
    import sys
    import time

    from medvision_app.samples import ensure_sample_study

    sample = ensure_sample_study(tmp_path / "sample")
    script = tmp_path / "parent.py"
    script.write_text(_ORPHAN_PARENT)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(script), str(sample / "CT_small.dcm")], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    pids = [int(p) for p in done.stdout.split()]
    assert pids

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        try:
            with open(f"/proc/{pid}/stat") as fh:  # an exited child not yet reaped is a zombie, not alive
                return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:  # reaped between the two looks
            return False

    deadline = time.monotonic() + 30
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in pids), "decoder helpers outlived the process that started them"


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

    for viewport, side in zip(viewports, ["right", "left", "right", "left"], strict=False):
        shown = viewport.display_array()
        # What is on screen (after any mirroring) has its chest wall towards the middle.
        on_screen = shown[:, ::-1] if viewport.auto_flip_h != viewport.user_flip_h else shown
        assert chest_wall_side(on_screen) == side
        assert max(shown.shape) <= 1200  # a reduced image goes to the screen first
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=60000)
