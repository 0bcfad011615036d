"""The main window fits the screen it opens on: first size, restored geometry, panels, status bar, overlays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QMargins, QRect  # noqa: E402

from medvision_app.gui.window_geometry import PREFERRED, clamp_frame, dock_widths, initial_geometry  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("available", [QRect(0, 0, 1366, 728), QRect(0, 0, 1280, 800), QRect(1920, 0, 1024, 600)])
def test_first_window_on_a_small_screen_fills_it_with_its_frame(available):
    frame = QMargins(8, 32, 8, 8)
    rect = initial_geometry(available, frame=frame)
    with_frame = rect.marginsAdded(frame)
    assert available.contains(with_frame)
    # all the room there is: no more than the frame's own margin is left unused
    assert with_frame.width() >= available.width() - 1 and with_frame.height() >= available.height() - 1


def test_first_window_on_a_large_screen_is_the_preferred_size_centred():
    available = QRect(0, 0, 2560, 1400)
    rect = initial_geometry(available)
    assert rect.size() == PREFERRED
    assert abs(rect.center().x() - available.center().x()) <= 8


def test_geometry_saved_on_a_gone_monitor_lands_on_the_remaining_one():
    laptop = QRect(0, 0, 1366, 768)
    saved = QRect(2200, 100, 1500, 940)  # was on an external monitor right of the laptop
    clamped = clamp_frame(saved, [laptop])
    assert laptop.contains(clamped)
    assert clamped.size() == QRect(0, 0, 1366, 768).size()  # larger than the laptop: shrunk to it


def test_geometry_on_the_second_screen_stays_there_and_keeps_its_size():
    screens = [QRect(0, 0, 1920, 1080), QRect(1920, 0, 1366, 768)]
    saved = QRect(2000, 500, 900, 500)  # pokes out below the small second screen
    clamped = clamp_frame(saved, screens)
    assert screens[1].contains(clamped)
    assert clamped.size() == saved.size() and clamped.x() == saved.x()


def test_a_window_already_on_screen_is_left_alone():
    screen = QRect(0, 0, 1920, 1080)
    saved = QRect(100, 80, 1200, 800)
    assert clamp_frame(saved, [screen]) == saved


def test_dock_columns_leave_the_viewer_most_of_a_laptop_window():
    left, right = dock_widths(1350)
    assert 1350 - left - right >= 600


def _virtual_screen(tmp_path: Path, width: int, height: int) -> str:
    config = {"screens": [{"name": "virtual", "x": 0, "y": 0, "width": width, "height": height,
                           "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}
    path = tmp_path / f"screen-{width}x{height}.json"
    path.write_text(json.dumps(config))
    return f"offscreen:configfile={path}"


@pytest.mark.slow
@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080)])
def test_window_fits_a_real_screen_with_a_four_view_open(tmp_path, width, height):
    """The whole window in a fresh process whose only screen is ``width`` x ``height``."""
    from medvision_app.samples import ensure_sample_study

    sample = ensure_sample_study(tmp_path / "sample")
    env = {**os.environ, "QT_QPA_PLATFORM": _virtual_screen(tmp_path, width, height),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "screen_fit_probe.py"), str(sample),
                           str(tmp_path / "settings.ini")], capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["shown"], "the four-view never finished loading"
    assert report["problems"] == []
    x, y, w, h = report["frame"]
    assert w <= width and h <= height
    if width >= PREFERRED.width() + 20:
        assert (w, h) != (width, height)  # a big screen is not filled edge to edge
    # closed while it sat on a monitor that is gone and was larger than this screen
    assert report["restored_problems"] == []
    rx, ry, rw, rh = report["restored_frame"]
    assert rx >= 0 and ry >= 0 and rx + rw <= width and ry + rh <= height


@pytest.mark.slow
def test_the_training_wizard_keeps_its_buttons_on_a_laptop_screen(tmp_path):
    """Every page, with the previews of colour images: the wizard and its Next/Launch button stay on screen.

    768 px less a 40 px panel: the preprocessing page's previews once grew
    the wizard to 1015 px, its buttons out of reach.
    """
    from PIL import Image

    for name, colour in (("red", (200, 60, 60)), ("blue", (60, 60, 200))):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (200, 150), colour).save(tmp_path / "data" / name / f"{i}.png")
    env = {**os.environ, "QT_QPA_PLATFORM": _virtual_screen(tmp_path, 1366, 728), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "wizard_fit_probe.py"), str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    pages = json.loads(done.stdout.strip().splitlines()[-1])
    assert [p["page"] for p in pages] == ["task", "data", "preprocessing", "model", "summary"]
    for page in pages:
        x, y, w, h = page["frame"]
        ax, ay, aw, ah = page["available"]
        bx, by = page["button_bottom_right"]
        assert ax <= x and ay <= y and x + w <= ax + aw and y + h <= ay + ah, page
        assert bx < ax + aw and by < ay + ah, page
