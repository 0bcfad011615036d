"""Saving a chosen operating threshold: beside the run, and into its exported model card.

The threshold is the first class's probability at or above which that class
is reported (``medvision_app.inference.predict.decide``). The card is part of
the model file's metadata, outside the graph hash, so it can be rewritten
without touching the graph; the result is verified before it replaces the file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional

from medvision_app.errors import UserError
from medvision_app.utils.atomic import atomic_write_text

OPERATING_POINT = "operating_point.json"


class ThresholdError(UserError):
    """The threshold could not be saved; the message names the file."""


def card_supports_threshold() -> bool:
    from medvision_app.inference.card import ModelCard

    return any(f.name == "threshold" for f in dataclasses.fields(ModelCard))


def write_threshold_into_model(model_path: Path, threshold: float) -> Path:
    """Rewrite ``model_path``'s embedded card (and the JSON beside it) with ``threshold``.

    A signed model's signature covers the card, so the rewritten model needs signing again.
    """
    from medvision_app.inference.card_update import update_card

    update_card(model_path, threshold=float(threshold))
    return model_path


def save_threshold(run_dir: str | Path, threshold: float, classes: list[str], *,
                   model_path: Optional[Path] = None) -> str:
    """Record ``threshold`` in ``RUN_DIR/operating_point.json`` and, where possible, in the model card.

    Returns a sentence saying where it went.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ThresholdError(f"threshold {threshold}: must be within [0, 1]")
    run_dir = Path(run_dir)
    record = {"threshold": float(threshold), "class": classes[0] if classes else None,
              "rule": "report the first class when its probability is at or above the threshold"}
    try:
        atomic_write_text(run_dir / OPERATING_POINT, json.dumps(record, indent=2) + "\n")
    except OSError as exc:
        raise ThresholdError(f"{run_dir / OPERATING_POINT}: cannot write: {exc.strerror or exc}") from None
    model_path = model_path or run_dir / "model.onnx"
    if not model_path.is_file():
        return f"saved in {run_dir / OPERATING_POINT}; export the run (medvision export) to carry it in a model card"
    if not card_supports_threshold():
        return f"saved in {run_dir / OPERATING_POINT}; this version's model card has no threshold field"
    write_threshold_into_model(model_path, threshold)
    return f"saved in {run_dir / OPERATING_POINT} and in the model card of {model_path}"


def load_threshold(run_dir: str | Path) -> Optional[float]:
    path = Path(run_dir) / OPERATING_POINT
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("threshold")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) and 0 <= value <= 1 else None
