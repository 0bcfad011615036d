"""Where the shipped files are: ``resources/``, ``models/`` and ``examples/configs/``.

In a checkout, an editable install and the reader build they sit next to
the package (the reader build keeps that layout under ``_internal/``). A
wheel cannot put folders beside ``site-packages/medvision_app``, so
``pip install medvision`` puts them under ``PREFIX/share/medvision``
(``[tool.setuptools.data-files]`` in pyproject.toml), and that is where
this looks when they are not beside the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

_BESIDE = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    """The folder holding ``resources/`` and ``models/`` (the checkout's root when neither is found)."""
    for candidate in (_BESIDE, Path(sys.prefix) / "share" / "medvision"):
        if (candidate / "resources").is_dir():
            return candidate
    return _BESIDE
