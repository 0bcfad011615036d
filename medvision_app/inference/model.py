"""Loading a model file: verify everything first, then build the session.

Verification reads the file once and checks, in order: it parses as ONNX; it is
in the canonical form MedVision writes (so no byte can change without changing
the parsed content); it is one self-contained file; it carries a card whose own
hash matches; the graph and weights hash to the card's ``graph_sha256``; the
card agrees with the graph (inputs, class count, attention output); a JSON card
beside the file, if any, is the embedded one. Only then is a session built,
from the same bytes. Nothing is unpickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import onnx
from google.protobuf.message import DecodeError

from medvision_app.inference.card import CARD_HASH_KEY, CARD_KEY, ModelCard
from medvision_app.inference.errors import ModelError
from medvision_app.inference.hashing import canonical_bytes, graph_sha256, text_sha256
from medvision_app.inference.runtime import Session
from medvision_app.inference.signing import SIGNATURE_KEY
from medvision_app.utils.config_io import ConfigError

PROBS_OUTPUT = "probabilities"
ATTENTION_OUTPUT = "attention"
CAM_OUTPUT = "cam"
IMAGE_INPUT = "image"
METADATA_INPUT = "metadata"


@dataclass(frozen=True)
class VerifiedModel:
    """A model file that passed every check, not yet given a session."""

    path: Path
    card: ModelCard
    data: bytes
    card_sha256: str = ""  # of the embedded card's text
    signature: str = ""  # the embedded signature entry, "" when unsigned (see inference.signing)


class LoadedModel:
    """A verified model with its inference session.

    Attributes
    ----------
    path : Path
    card : ModelCard
    session : Session
    pipeline : PipelineConfig
        The card's preprocessing, resolved and checked once at load.
    """

    def __init__(self, verified: VerifiedModel, session: Session, pipeline, provenance=None) -> None:
        self.path = verified.path
        self.card = verified.card
        self.session = session
        self.pipeline = pipeline
        # inference.provenance.Provenance: shipped, signed or unverified (load_model fills it in)
        self.provenance = provenance

    @property
    def identity(self) -> str:
        """``name vVERSION (sha256 prefix)``: what a report says was used."""
        return f"{self.card.name} v{self.card.version} ({self.card.graph_sha256[:12]})"

    @property
    def provider(self) -> str:
        return self.session.provider

    @property
    def has_attention(self) -> bool:
        return ATTENTION_OUTPUT in self.session.output_names

    @property
    def has_cam(self) -> bool:
        return CAM_OUTPUT in self.session.output_names


def card_path_for(model_path: str | Path) -> Path:
    """Where the JSON card beside a model lives: ``name.onnx`` -> ``name.card.json``."""
    path = Path(model_path)
    return path.with_name(path.stem + ".card.json")


def _dims(value_info: onnx.ValueInfoProto) -> list:
    dims = []
    for d in value_info.type.tensor_type.shape.dim:
        dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or None))
    return dims


def _check_card_against_graph(path: Path, card: ModelCard, model: onnx.ModelProto) -> None:
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = {i.name: i for i in graph.input if i.name not in initializers}
    outputs = {o.name: o for o in graph.output}
    if IMAGE_INPUT not in inputs:
        raise ModelError(path, f"graph has no {IMAGE_INPUT!r} input (inputs: {', '.join(inputs) or 'none'})")
    dims = _dims(inputs[IMAGE_INPUT])
    expected = [card.input_channels, *card.input_size]
    if len(dims) != 4 or dims[1:] != expected:
        raise ModelError(path, f"card says input {expected} (channels, height, width) but the graph takes {dims}")
    has_meta = METADATA_INPUT in inputs
    if has_meta != (card.metadata_features > 0):
        raise ModelError(path, f"card says {card.metadata_features} metadata features but the graph "
                               f"{'has' if has_meta else 'has no'} metadata input")
    if has_meta:
        meta_dims = _dims(inputs[METADATA_INPUT])
        if len(meta_dims) != 2 or meta_dims[1] != card.metadata_features:
            raise ModelError(path, f"card says {card.metadata_features} metadata features, graph takes {meta_dims}")
    if PROBS_OUTPUT not in outputs:
        raise ModelError(path, f"graph has no {PROBS_OUTPUT!r} output")
    probs = _dims(outputs[PROBS_OUTPUT])
    if len(probs) != 2 or probs[1] != card.num_classes:
        raise ModelError(path, f"card lists {card.num_classes} classes but the graph outputs {probs}")
    if card.attention != (ATTENTION_OUTPUT in outputs):
        raise ModelError(path, f"card says attention={card.attention} but the graph "
                               f"{'has' if ATTENTION_OUTPUT in outputs else 'has no'} attention output")
    if (card.heatmap_kind == "cam") != (CAM_OUTPUT in outputs):
        raise ModelError(path, f"card says heatmap={card.heatmap_kind!r} but the graph "
                               f"{'has' if CAM_OUTPUT in outputs else 'has no'} {CAM_OUTPUT!r} output")


def verify_bytes(path: str | Path, data: bytes, *, side_card: bool = True) -> VerifiedModel:
    """Verify a model's bytes (see the module docstring); ``path`` names it in errors.

    ``side_card=False`` skips the comparison with the JSON card beside ``path``
    (used while that card is being written).
    """
    path = Path(path)
    if not data:
        raise ModelError(path, "file is empty")
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelError(path, f"not a readable ONNX model (truncated or corrupt): {exc}") from None
    if canonical_bytes(model) != data:
        raise ModelError(path, "file bytes differ from their parsed content: altered, truncated, "
                               "or not written by MedVision")
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise ModelError(path, "weights are stored outside the file (.onnx.data); MedVision models are one file")
    props = {p.key: p.value for p in model.metadata_props}
    if CARD_KEY not in props:
        raise ModelError(path, "no MedVision model card embedded in the file")
    card_text = props[CARD_KEY]
    if props.get(CARD_HASH_KEY) != text_sha256(card_text):
        raise ModelError(path, "embedded model card was altered (its hash does not match)")
    try:
        card = ModelCard.from_json(card_text, source="embedded model card")
    except (ConfigError, ValueError) as exc:
        raise ModelError(path, f"embedded model card is invalid: {exc}") from None
    actual = graph_sha256(model)
    if actual != card.graph_sha256:
        raise ModelError(path, f"graph and weights do not match the card's hash "
                               f"(sha256 {actual[:12]}..., card says {card.graph_sha256[:12]}...): tampered or damaged")
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(path, f"invalid ONNX graph: {str(exc).splitlines()[0]}") from None
    _check_card_against_graph(path, card, model)
    side = card_path_for(path)
    if side_card and side.is_file():
        try:
            side_card = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelError(side, f"model card beside the model is unreadable: {exc}") from None
        if side_card != json.loads(card_text):
            raise ModelError(side, f"model card differs from the one embedded in {path.name}")
    return VerifiedModel(path=path, card=card, data=data, card_sha256=props[CARD_HASH_KEY],
                         signature=props.get(SIGNATURE_KEY, ""))


def verify_model(path: str | Path) -> VerifiedModel:
    """Read and verify a model file; raises :class:`ModelError` naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(path, f"cannot read: {exc.strerror or exc}") from None
    return verify_bytes(path, data)


def load_model(path: str | Path, *, device: str = "auto", threads: Optional[int] = None,
               warm_up: bool = True) -> LoadedModel:
    """Verify a model file and open an inference session on it.

    Raises
    ------
    ModelError
        The file is unreadable, tampered, truncated, its card does not
        match its graph, or the card's preprocessing is invalid. Nothing is half-loaded: no session exists until every
        check has passed. A file impersonating a shipped model is refused too
        (:func:`~medvision_app.inference.provenance.assess`); one of merely
        unverified origin loads, with ``provenance.state == "unverified"``,
        and the caller decides (``medvision predict`` refuses it unless asked).
    """
    from medvision_app.inference.provenance import assess

    verified = verify_model(path)
    provenance = assess(verified)
    try:
        pipeline = verified.card.pipeline()
    except ConfigError as exc:
        raise ModelError(verified.path, f"model card preprocessing is invalid: {exc}") from None
    try:
        session = Session(verified.data, device=device, threads=threads)
    except Exception as exc:  # onnxruntime raises its own unexported exception types
        raise ModelError(verified.path, f"onnxruntime cannot load the graph: {exc}") from None
    if warm_up:
        session.warm_up()
    return LoadedModel(verified, session, pipeline, provenance)
