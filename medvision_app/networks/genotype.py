"""The BbNAS paper's architecture notation, parsed and printed exactly.

A genotype is a tuple of :class:`Layer` read left to right::

    C(64,3) P(1,1) IB(32,64,128,16,32,32) P(1,1) F() FC(10)

``C(a,b)`` a convolution with ``a`` filters of ``b x b`` (no padding);
``P(a,b)`` a max pooling with step ``a`` and size ``b``; ``IB(a,b,c,d,e,f)`` an
Inception block (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection, as
in GoogLeNet); ``SEIB(...)`` the same followed by squeeze-and-excitation;
``Concat()`` the channel concatenation of the two preceding layers' outputs;
``F()`` flatten; ``FC(a)`` a fully connected layer with ``a`` outputs (the
last one gives the class logits, the softmax being implied).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from medvision_app.errors import UserError

ARITY = {"C": 2, "P": 2, "IB": 6, "SEIB": 6, "Concat": 0, "F": 0, "FC": 1}
BLOCKS = ("IB", "SEIB")

_TOKEN = re.compile(r"\s*([A-Za-z]+)\s*\(([^()]*)\)\s*[;,]?")


class GenotypeError(UserError, ValueError):
    """A genotype string or JSON value does not follow the notation."""


@dataclass(frozen=True)
class Layer:
    """One element of the notation: a kind from :data:`ARITY` and its integers."""

    kind: str
    args: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ARITY:
            raise GenotypeError(f"unknown layer kind {self.kind!r}; expected one of {', '.join(ARITY)}")
        if len(self.args) != ARITY[self.kind]:
            raise GenotypeError(f"{self.kind} takes {ARITY[self.kind]} values, got {len(self.args)}: {self.args}")
        if any((not isinstance(a, int)) or isinstance(a, bool) or a < 1 for a in self.args):
            raise GenotypeError(f"{self.kind}{self.args}: every value must be a positive integer")

    def __str__(self) -> str:
        return f"{self.kind}({','.join(str(a) for a in self.args)})"

    @property
    def is_block(self) -> bool:
        return self.kind in BLOCKS


Genotype = tuple[Layer, ...]


def C(filters: int, kernel: int) -> Layer:
    return Layer("C", (filters, kernel))


def P(step: int, size: int) -> Layer:
    return Layer("P", (step, size))


def IB(*widths: int) -> Layer:
    return Layer("IB", tuple(widths))


def SEIB(*widths: int) -> Layer:
    return Layer("SEIB", tuple(widths))


def Concat() -> Layer:
    return Layer("Concat")


def F() -> Layer:
    return Layer("F")


def FC(outputs: int) -> Layer:
    return Layer("FC", (outputs,))


def parse(text: str) -> Genotype:
    """Read the paper's notation; spaces, ``;`` or ``,`` may separate layers.

    Raises
    ------
    GenotypeError
        On anything that is not a sequence of known layers with integer values.
    """
    text = text.strip()
    pos, layers = 0, []
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise GenotypeError(f"cannot read the genotype at {text[pos:pos + 20]!r} in {text!r}")
        kind, raw = match.group(1), match.group(2).strip()
        try:
            args = tuple(int(v) for v in raw.split(",")) if raw else ()
        except ValueError:
            raise GenotypeError(f"{kind}({raw}): values must be integers") from None
        layers.append(Layer(kind, args))
        pos = match.end()
    if not layers:
        raise GenotypeError("empty genotype")
    return tuple(layers)


def format_genotype(genotype: Iterable[Layer]) -> str:
    """The paper's notation, layers separated by one space."""
    return " ".join(str(layer) for layer in genotype)


def to_json(genotype: Sequence[Layer]) -> list:
    """A JSON-able list ``[["C", [64, 3]], ...]``."""
    return [[layer.kind, list(layer.args)] for layer in genotype]


def from_json(data) -> Genotype:
    """Inverse of :func:`to_json`; also accepts the notation as one string."""
    if isinstance(data, str):
        return parse(data)
    if not isinstance(data, list):
        raise GenotypeError(f"expected a list of [kind, [values]], got {type(data).__name__}")
    layers = []
    for item in data:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], (list, tuple))):
            raise GenotypeError(f"expected [kind, [values]], got {item!r}")
        layers.append(Layer(str(item[0]), tuple(item[1])))
    return tuple(layers)


def dumps(genotype: Sequence[Layer]) -> str:
    return json.dumps(to_json(genotype))


def loads(text: str) -> Genotype:
    try:
        return from_json(json.loads(text))
    except json.JSONDecodeError as exc:
        raise GenotypeError(f"not JSON: {exc}") from None


def initial_genotype(block: str = "IB", classes: int = 10) -> Genotype:
    """The paper's initial model: conv, pooling, the designated block, pooling, flatten, FC."""
    if block not in BLOCKS:
        raise GenotypeError(f"block must be one of {BLOCKS}, got {block!r}")
    return (C(64, 3), P(1, 1), Layer(block, (32, 64, 128, 16, 32, 32)), P(1, 1), F(), FC(classes))
