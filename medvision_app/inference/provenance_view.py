"""The provenance state a user sees for a model: "shipped", "signed", "unverified" or "unknown".

The registry decides provenance (``RegistryEntry.provenance``); this module
only reads it, and says "unknown" for a file outside the registry or a
registry that does not record it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

UNKNOWN = "unknown"


def entry_provenance(entry) -> str:
    return getattr(entry, "provenance", None) or UNKNOWN


def model_provenance(path: str | Path, registry: Optional[object] = None) -> str:
    """Provenance of the registry entry whose file is ``path`` (resolved), else "unknown"."""
    from medvision_app.inference.registry import ModelRegistry

    target = Path(path).resolve()
    for entry in (registry or ModelRegistry()).list():
        if Path(entry.path).resolve() == target:
            return entry_provenance(entry)
    return UNKNOWN
