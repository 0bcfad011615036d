"""packaging/install.sh names the system libraries Qt's xcb plugin lacks, and the package that brings each.

A stand-in application folder holds a ``libqxcb.so`` linked against a
``libxcb-cursor.so.99`` that is then removed (a soname no system has, so
``ldd`` finds it nowhere): what a machine without libxcb-cursor0 looks like
to the script. Needs a C compiler.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not (shutil.which("cc") and shutil.which("ldd")), reason="needs cc and ldd")


@pytest.fixture
def app_without_xcb_cursor(tmp_path) -> Path:
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "cursor.c").write_text("int xcb_cursor_stand_in(void) { return 1; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-Wl,-soname,libxcb-cursor.so.99", "-o", libs / "libxcb-cursor.so.99",
                    libs / "cursor.c"], check=True)
    app = tmp_path / "medvision"
    plugins = app / "_internal" / "PySide6" / "Qt" / "plugins" / "platforms"
    plugins.mkdir(parents=True)
    (libs / "qxcb.c").write_text("int xcb_cursor_stand_in(void);\nint qxcb(void) { return xcb_cursor_stand_in(); }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", plugins / "libqxcb.so", libs / "qxcb.c", "-L", libs,
                    "-l:libxcb-cursor.so.99"], check=True)
    shutil.rmtree(libs)
    shutil.copy(ROOT / "packaging" / "install.sh", app / "install.sh")
    return app


def test_check_names_the_missing_library_and_its_package(app_without_xcb_cursor):
    done = subprocess.run([str(app_without_xcb_cursor / "install.sh"), "--check"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "libxcb-cursor.so.99 (Debian/Ubuntu package libxcb-cursor0)" in done.stderr
    assert "sudo apt-get install libxcb-cursor0" in done.stderr


def test_install_refuses_without_them_and_installs_nothing(app_without_xcb_cursor, tmp_path):
    prefix = tmp_path / "local"
    done = subprocess.run([str(app_without_xcb_cursor / "install.sh"), "--prefix", str(prefix)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and "Nothing was installed" in done.stderr
    assert not prefix.exists()


def test_a_folder_without_the_plugin_is_called_incomplete(tmp_path):
    app = tmp_path / "medvision"
    (app / "_internal").mkdir(parents=True)
    shutil.copy(ROOT / "packaging" / "install.sh", app / "install.sh")
    done = subprocess.run([str(app / "install.sh"), "--check"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "libqxcb.so" in done.stderr and "incomplete" in done.stderr
