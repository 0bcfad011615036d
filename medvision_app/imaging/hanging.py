"""Hanging protocols: which image goes in which viewport, and which way it faces.

No Qt here: the workstation asks :func:`hang` for a layout and draws it. The
mammography screening protocol places RCC | LCC over RMLO | LMLO with each
image flipped so the chest walls face each other (the breasts meet in the
middle, as radiologists read them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from medvision_app.imaging.metadata import ImageMetadata

LAYOUTS = {"1x1": (1, 1), "1x2": (1, 2), "2x2": (2, 2)}
MAMMO_FOUR_VIEW = "mammography four-view"
GRID = "grid"

# (laterality, view) -> (row, column) in the 2x2 screening layout.
_MAMMO_SLOTS = {("R", "CC"): (0, 0), ("L", "CC"): (0, 1), ("R", "MLO"): (1, 0), ("L", "MLO"): (1, 1)}

_LATERALITY_WORDS = {"LEFT": "L", "RIGHT": "R", "L": "L", "R": "R"}
_VIEW_WORDS = {"CC": "CC", "MLO": "MLO", "CRANIOCAUDAL": "CC", "MEDIOLATERAL": "MLO"}


@dataclass(frozen=True)
class Placement:
    """One viewport of a hanging.

    ``item`` indexes the sequence given to :func:`hang`. ``chest_wall`` is the
    viewport side the chest wall must be on (``"left"``/``"right"``), or None
    when orientation is left as stored.
    """

    item: int
    row: int
    col: int
    label: str = ""
    chest_wall: Optional[str] = None


@dataclass(frozen=True)
class Hanging:
    protocol: str
    rows: int
    cols: int
    placements: tuple[Placement, ...]


def view_of(metadata: ImageMetadata, path: Optional[Path] = None) -> tuple[Optional[str], Optional[str]]:
    """(laterality ``"L"``/``"R"``, view ``"CC"``/``"MLO"``) of a mammogram, None where unknown.

    The DICOM attributes win; when a file lacks them (CBIS-DDSM and other
    converted collections do) the series description and the file name are
    searched for words such as ``LEFT_CC`` or ``R-MLO``.
    """
    lat = (metadata.laterality or "").strip().upper() or None
    view = (metadata.view_position or "").strip().upper() or None
    lat = _LATERALITY_WORDS.get(lat) if lat else None
    view = _VIEW_WORDS.get(view, view) if view else None
    texts = [metadata.series_description or "", path.stem if path else ""]
    for text in texts:
        tokens = [t for t in re.split(r"[^A-Z]+", text.upper()) if t]
        for token in tokens:
            if lat is None and token in ("LEFT", "RIGHT"):
                lat = _LATERALITY_WORDS[token]
            if view is None and token in _VIEW_WORDS:
                view = _VIEW_WORDS[token]
            # Joined forms: LCC, RMLO.
            if len(token) in (3, 4) and token[0] in "LR" and token[1:] in ("CC", "MLO"):
                lat = lat or token[0]
                view = view or token[1:]
    return lat, view


def mammo_four_view(items: Sequence[tuple[ImageMetadata, Optional[Path]]]) -> Optional[Hanging]:
    """The 2x2 screening hanging when ``items`` hold RCC, LCC, RMLO and LMLO, else None.

    When a view occurs more than once, the first occurrence is hung.
    """
    found: dict[tuple[str, str], int] = {}
    for i, (meta, path) in enumerate(items):
        key = view_of(meta, path)
        if key in _MAMMO_SLOTS and key not in found:
            found[key] = i
    if len(found) != 4:
        return None
    placements = tuple(
        Placement(
            item=found[key],
            row=row,
            col=col,
            label=f"{key[0]}{key[1]}",
            # Right breast hangs on the left: its chest wall faces the middle.
            chest_wall="right" if key[0] == "R" else "left",
        )
        for key, (row, col) in _MAMMO_SLOTS.items()
    )
    return Hanging(MAMMO_FOUR_VIEW, 2, 2, placements)


def grid(n_items: int, layout: str = "1x1", *, first: int = 0) -> Hanging:
    """Items ``first, first+1, ...`` in reading order in a ``layout`` grid.

    Raises
    ------
    ValueError
        If ``layout`` is not one of :data:`LAYOUTS` or ``n_items`` is negative.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    if n_items < 0:
        raise ValueError(f"n_items must be >= 0, got {n_items}")
    rows, cols = LAYOUTS[layout]
    placements = tuple(
        Placement(item=first + k, row=k // cols, col=k % cols)
        for k in range(min(rows * cols, max(n_items - first, 0)))
    )
    return Hanging(GRID, rows, cols, placements)


def hang(items: Sequence[tuple[ImageMetadata, Optional[Path]]], layout: Optional[str] = None) -> Hanging:
    """Choose the hanging for a study.

    ``layout=None`` lets the protocol decide: the mammography four-view when
    the study has it, else one image. ``"2x2"`` on a four-view study also gives
    the mammography hanging; any other explicit layout is a plain grid.
    """
    if layout in (None, "2x2"):
        mammo = mammo_four_view(items)
        if mammo is not None:
            return mammo
    return grid(len(items), layout or "1x1")


def chest_wall_side(display: np.ndarray, *, margin: float = 0.15) -> str:
    """Which side of a mammogram (``"left"``/``"right"``) the chest wall is on.

    The breast touches the image border along the chest wall and fades into
    dark background towards the nipple, so the brighter of the two outer
    column bands (each ``margin`` of the width) is the chest wall.

    Raises
    ------
    ValueError
        If ``display`` is not 2-D (or 3-D colour) or ``margin`` is not in (0, 0.5].
    """
    if display.ndim not in (2, 3):
        raise ValueError(f"expected a 2-D image, got shape {display.shape}")
    if not 0 < margin <= 0.5:
        raise ValueError(f"margin must be in (0, 0.5], got {margin}")
    width = display.shape[1]
    band = max(1, int(round(width * margin)))
    left = float(np.mean(display[:, :band]))
    right = float(np.mean(display[:, width - band:]))
    return "left" if left >= right else "right"


def needs_flip(display: np.ndarray, chest_wall: Optional[str]) -> bool:
    """True when ``display`` must be mirrored left-right to put its chest wall on ``chest_wall``."""
    if chest_wall is None:
        return False
    if chest_wall not in ("left", "right"):
        raise ValueError(f"chest_wall must be 'left', 'right' or None, got {chest_wall!r}")
    return chest_wall_side(display) != chest_wall
