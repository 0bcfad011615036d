"""The models that ship with MedVision, pinned by the sha256 of their file bytes.

A hash stored inside a model file protects it from damage, not from a
person: zero a weight tensor, recompute the hashes in the file, and it
verifies again. These pins live in the installed package, apart from the
files they protect, so an altered ``models/breastmnist.onnx`` no longer
counts as shipped, and no other file may take a shipped name
(:mod:`medvision_app.inference.provenance`). Re-exporting a shipped model
means updating its pin here; ``tests/test_model_provenance.py`` checks that
every file in ``models/`` is pinned and matches.
"""

from __future__ import annotations

from typing import Optional

SHIPPED_SHA256 = {
    "ham10000-sa-meta": "af4d010c945f6f95cc9319d08cff104c13f3129f559cd064c8502854229995f9",
    "dermamnist": "a0055b00924d86737e046a9af8772166d3b5b48546bab05448e30319cf7e68c1",
    "pneumoniamnist": "128c76668c651b251479758f1a376715a502ea2842ffcb45952d0a70337ab5dc",
    "breastmnist": "3d0556df6bddbbdf72dfc1b4f072b77ff27cfc0b5b13676506c8bc530ae4717c",
}

_BY_DIGEST = {digest: name for name, digest in SHIPPED_SHA256.items()}


def shipped_name_for(digest: str) -> Optional[str]:
    """The shipped model whose file bytes hash to ``digest`` (hex sha256), else None."""
    return _BY_DIGEST.get(digest)


def is_shipped_name(name: Optional[str]) -> bool:
    return bool(name) and name in SHIPPED_SHA256
