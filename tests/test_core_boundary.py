"""The core runs headless: nothing outside medvision_app/gui imports Qt widgets or pyqtgraph."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import medvision_app

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("PySide6.QtWidgets", "pyqtgraph") or name.startswith("pyqtgraph."):
            raise ImportError(f"core module imported {name}")
sys.meta_path.insert(0, Block())
import importlib
for module in sys.argv[1:]:
    importlib.import_module(module)
print("ok")
"""


def core_modules() -> list[str]:
    root = Path(medvision_app.__file__).parent
    names = []
    for info in pkgutil.walk_packages([str(root)], prefix="medvision_app."):
        if info.name.startswith(("medvision_app.gui", "medvision_app.cli.gui_cmd")) or info.name == "medvision_app.__main__":
            continue
        names.append(info.name)
    return names


def test_core_imports_without_qt_widgets():
    modules = core_modules()
    assert "medvision_app.imaging.reader" in modules
    done = subprocess.run([sys.executable, "-c", BLOCKER, *modules], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
