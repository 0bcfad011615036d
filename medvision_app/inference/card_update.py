"""Rewrite the card embedded in a model file without touching its graph or weights.

For facts the card gained after a model was exported (the intended use, how
it explains itself): the graph hash stays the same, so the model is the same
model; the new file is written in canonical form and verified before it
replaces the old one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import onnx

from medvision_app.inference.card import CARD_HASH_KEY, CARD_KEY, ModelCard
from medvision_app.inference.errors import ModelError
from medvision_app.inference.hashing import canonical_bytes, text_sha256
from medvision_app.inference.model import card_path_for, verify_bytes, verify_model
from medvision_app.inference.signing import SIGNATURE_KEY, check, sign
from medvision_app.utils.atomic import atomic_write_bytes, atomic_write_text


def update_card(path: str | Path, **changes) -> ModelCard:
    """Replace card fields of a verified model file in place; returns the new card.

    ``graph_sha256`` cannot be changed. Raises :class:`ModelError` when the
    file fails verification before or after.
    """
    if "graph_sha256" in changes:
        raise ValueError("graph_sha256 belongs to the graph and cannot be set")
    path = Path(path)
    verified = verify_model(path)
    # A model this installation signed stays signed: saving a threshold from the
    # dashboard must not turn the user's own model into one of unverified
    # origin. Any other model keeps what it had: a card change never signs it.
    was_ours = check(verified.signature, verified.card.graph_sha256, verified.card_sha256)[0]
    card = dataclasses.replace(verified.card, **changes)
    model = onnx.load_model_from_string(verified.data)
    text = card.to_json()
    props = {p.key: p for p in model.metadata_props}
    props[CARD_KEY].value = text
    props[CARD_HASH_KEY].value = text_sha256(text)
    if was_ours:
        props[SIGNATURE_KEY].value = sign(card.graph_sha256, text_sha256(text))
    data = canonical_bytes(model)
    try:
        verify_bytes(path, data, side_card=False)
    except ModelError as exc:
        raise ModelError(path, f"the changed card does not fit the graph: {exc.reason}") from None
    atomic_write_text(card_path_for(path), text)
    atomic_write_bytes(path, data)
    return card
