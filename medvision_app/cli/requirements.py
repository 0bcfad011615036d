"""Which installable part each command needs, checked before the command imports anything from it.

A core-only install (``pip install medvision``) opens, renders and
preprocesses images; this table is what turns ``medvision train`` there into
``error: training needs the train extra: pip install medvision[train]`` and
exit status 2 instead of a traceback from deep inside the training engine.
"""

from __future__ import annotations

import argparse
from typing import Optional

from medvision_app.extras import require

# (command, sub-command or None) -> (extra, what the message calls the work)
NEEDS: dict[tuple[str, Optional[str]], tuple[str, str]] = {
    ("train", None): ("train", "training"),
    ("evaluate", None): ("train", "evaluating a run"),
    ("search", None): ("train", "architecture search"),
    ("export", None): ("train", "exporting a run to ONNX"),
    ("augment-preview", None): ("train", "the augmentation preview"),
    ("jobs", "resume"): ("train", "resuming a training or search job"),
    ("predict", None): ("runtime", "predicting"),
    ("report", "case"): ("runtime", "the case report (it predicts)"),
    ("gui", None): ("gui", "the workstation"),
}


def check(args: argparse.Namespace) -> None:
    """Raise :class:`medvision_app.extras.MissingExtra` when ``args``' command needs a part that is not here."""
    command = getattr(args, "command", None)
    sub = getattr(args, "jobs_command", None) or getattr(args, "report_kind", None)
    need = NEEDS.get((command, sub)) or NEEDS.get((command, None))
    if need is not None:
        require(*need)
