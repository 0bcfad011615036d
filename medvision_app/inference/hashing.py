"""Content hashes of ONNX models that ignore the embedded model card.

The card lives in ``metadata_props`` and holds the hash of everything else, so
the hash must be computed with ``metadata_props`` cleared. Serialisation is
deterministic; together with the canonical-form check in
:mod:`medvision_app.inference.model` one changed byte anywhere in the file is
detected.
"""

from __future__ import annotations

import hashlib

import onnx


def canonical_bytes(model: onnx.ModelProto) -> bytes:
    """The model serialised deterministically (the bytes MedVision writes)."""
    return model.SerializeToString(deterministic=True)


def graph_sha256(model: onnx.ModelProto) -> str:
    """sha256 (hex) of the graph and weights, with ``metadata_props`` cleared.

    The input is not modified.
    """
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    del bare.metadata_props[:]
    return hashlib.sha256(canonical_bytes(bare)).hexdigest()


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_list_sha256(names: list[str]) -> str:
    """Order-independent hash of a data set's file list (or sample ids)."""
    joined = "\n".join(sorted(str(n) for n in names))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()
