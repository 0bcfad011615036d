"""Which installable parts (pip extras) are here, and one clear line when one is missing.

MedVision installs as a small core (open, view, render, preprocess, reports)
plus extras: ``gui`` (PySide6, pyqtgraph), ``train`` (torch, torchvision),
``cpu`` or ``gpu`` (the ONNX runtime that predicts), ``cluster`` (Ray). An
entry point that needs an extra calls :func:`require` before it imports
anything from it, so a partial install ends in ``error: training needs the
train extra: pip install medvision[train]`` instead of an ImportError
traceback; the GUI asks :func:`available` to disable what it cannot do.

Presence is checked with ``importlib.util.find_spec``: nothing is imported
(torch alone takes seconds), so asking is free at start-up.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from typing import Optional

from medvision_app.errors import UserError


@dataclass(frozen=True)
class Extra:
    name: str  # the pip extra; "runtime" is satisfied by either cpu or gpu
    modules: tuple[str, ...]  # top-level modules that must be importable
    install: str  # what to install, as the user types it


EXTRAS: dict[str, Extra] = {
    "gui": Extra("gui", ("PySide6", "pyqtgraph"), "medvision[gui]"),
    "train": Extra("train", ("torch", "torchvision"), "medvision[train]"),
    # onnxruntime and onnxruntime-gpu install the same module and must not be
    # installed together, so neither is in the core: the user picks one.
    "runtime": Extra("runtime", ("onnxruntime",), "medvision[cpu] (or medvision[gpu] on an NVIDIA GPU)"),
    "cluster": Extra("cluster", ("ray",), "medvision[cluster]"),
}

# The extra a top-level module belongs to, for the CLI's last line of defence.
MODULE_EXTRA = {module: extra.name for extra in EXTRAS.values() for module in extra.modules}


class MissingExtra(UserError):
    """An installable part this command needs is not installed."""


def _importable(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a blocked or half-removed package
        return False


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    return [m for m in EXTRAS[extra].modules if not _importable(m)]


def available(extra: str) -> bool:
    return not missing(extra)


def frozen() -> bool:
    """True in the PyInstaller reader build, where pip cannot add an extra."""
    return bool(getattr(sys, "frozen", False))


def message(extra: str, purpose: str) -> str:
    """``training needs the train extra: pip install medvision[train]``."""
    spec = EXTRAS[extra]
    what = "an ONNX runtime" if extra == "runtime" else f"the {extra} extra"
    if frozen():
        return (f"{purpose} needs {what}, which this reader build leaves out: "
                f"install MedVision with pip install medvision[gui,train] to have it")
    return f"{purpose} needs {what}: pip install {spec.install}"


def require(extra: str, purpose: str) -> None:
    """Raise :class:`MissingExtra` with one clear line when ``extra`` is not installed."""
    if not available(extra):
        raise MissingExtra(message(extra, purpose))


def explain_import_error(exc: ImportError) -> Optional[str]:
    """The one-line message for an ImportError of a module that an extra brings, else None."""
    name = (getattr(exc, "name", None) or "").split(".")[0]
    extra = MODULE_EXTRA.get(name)
    if extra is None or available(extra):
        # the part is installed and still failed (a build without PySide6.QtOpenGL): a bug, not a missing extra
        return None
    purpose = {"gui": "the workstation", "train": "this command (it uses torch)",
               "runtime": "predicting", "cluster": "searching on a Ray cluster"}[extra]
    return message(extra, purpose)
