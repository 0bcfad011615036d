"""Where a model comes from: "shipped", "signed" or "unverified".

Integrity (:func:`~medvision_app.inference.model.verify_bytes`) says a file
is whole and agrees with its own card; it cannot say who made it, because
anyone can recompute the hashes inside a file. Provenance can:

- ``shipped``: the file's bytes hash to a pin in
  :mod:`~medvision_app.inference.shipped_models`;
- ``signed``: it carries a valid signature by this installation's key
  (:mod:`~medvision_app.inference.signing`): it was exported here;
- ``unverified``: anything else. ``medvision predict`` refuses it unless
  asked (``--allow-unverified``).

A file that claims a shipped model's name (as its registered or file name,
or in its card) without being that model is refused outright: that is an
impersonation, not merely an unknown origin.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from medvision_app.inference.errors import ModelError
from medvision_app.inference.shipped_models import SHIPPED_SHA256, is_shipped_name, shipped_name_for
from medvision_app.inference.signing import check

SHIPPED = "shipped"
SIGNED = "signed"
UNVERIFIED = "unverified"
STATES = (SHIPPED, SIGNED, UNVERIFIED)


@dataclass(frozen=True)
class Provenance:
    state: str  # one of STATES
    detail: str  # one sentence for the user

    @property
    def trusted(self) -> bool:
        return self.state != UNVERIFIED


def assess(verified, name: Optional[str] = None) -> Provenance:
    """The provenance of a :class:`~medvision_app.inference.model.VerifiedModel`.

    ``name`` is the registered name or file stem it goes by (default: the
    file's stem). Raises :class:`ModelError` for an impersonation.
    """
    digest = hashlib.sha256(verified.data).hexdigest()
    shipped = shipped_name_for(digest)
    if shipped is not None:
        return Provenance(SHIPPED, f"shipped with MedVision as {shipped} (pinned sha256 {digest[:12]})")
    for label, claimed in (("is named", name or Path(verified.path).stem), ("calls itself", verified.card.name)):
        if is_shipped_name(claimed):
            raise ModelError(verified.path, f"{label} {claimed!r}, a model shipped with MedVision, but is not that "
                                            f"model (sha256 {digest[:12]}..., shipped {SHIPPED_SHA256[claimed][:12]}...): "
                                            "altered or impersonating; refused")
    ok, why = check(verified.signature, verified.card.graph_sha256, verified.card_sha256)
    if ok:
        return Provenance(SIGNED, why)
    return Provenance(UNVERIFIED, f"unverified origin: {why}")


def require_trusted(provenance: Provenance, path: str | Path, *, allow_unverified: bool) -> None:
    """Refuse a model of unverified origin unless the user asked for it."""
    if provenance.state == UNVERIFIED and not allow_unverified:
        raise ModelError(path, f"{provenance.detail}; refusing to run a model of unverified origin "
                               "(--allow-unverified runs it anyway)")
