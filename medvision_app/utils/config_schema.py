"""What a config field means and which values it takes, declared once next to the field.

A field made with :func:`option` carries, in its dataclass metadata,

- ``"help"``: one sentence for a tooltip or ``--help``;
- ``"range"``: ``(lo, hi)``, inclusive, either bound ``None`` for open
  (only present when given);
- ``"unit"``: ``"epochs"``, ``"images"``, ... (only present when given);
- ``"when"``: ``{sibling: (values, ...)}`` (or ``{"/field": ...}``, a field
  of the whole configuration), the settings under which the field means
  something (only present when given): a form shows it only then, and the
  value is kept, not cleared, while it is hidden.

Choices are declared by the type (``typing.Literal`` or an ``enum.Enum``).
:func:`validate` checks an instance against all of it, so the TOML loader,
the CLI's ``--set`` and the GUI form (all through ``config_io.from_dict``)
refuse the same values with the same message. Strict bounds that an
inclusive range cannot say (a learning rate of exactly 0) stay in the
dataclass's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import re
import types
import typing
from typing import Any, Optional, Union, get_args, get_origin, get_type_hints

from medvision_app.errors import UserError

__all__ = ["ConfigError", "option", "validate", "check_fields", "field_help", "field_range", "field_unit",
           "field_when", "applies", "choices"]

MISSING = dataclasses.MISSING


class ConfigError(UserError, ValueError):
    """A configuration file or value is invalid; the message says where."""


def option(default: Any = MISSING, *, help: str, range: Optional[tuple] = None,
           unit: Optional[str] = None, path: Optional[str] = None, when: Optional[dict] = None,
           default_factory: Any = MISSING) -> Any:
    """A ``dataclasses.field`` whose metadata holds ``help`` and, when given, ``range``, ``unit``, ``path``, ``when``.

    ``path`` (``"file"`` or ``"folder"``) marks a string that names one, so a
    form can offer a chooser beside it. ``when`` names fields of the same
    dataclass (or, after a ``/``, of the whole configuration) and the values
    under which this one applies (``when={"name": ("genotype", "enas")}``);
    see :func:`applies`.
    """
    if path not in (None, "file", "folder"):
        raise ValueError(f"path={path!r}: expected 'file' or 'folder'")
    metadata: dict[str, Any] = {"help": help}
    if when is not None:
        metadata["when"] = {name: tuple(values) for name, values in when.items()}
    if path is not None:
        metadata["path"] = path
    if range is not None:
        lo, hi = range
        metadata["range"] = (lo, hi)
    if unit is not None:
        metadata["unit"] = unit
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def field_help(f: dataclasses.Field) -> str:
    return f.metadata.get("help", "")


def field_range(f: dataclasses.Field) -> Optional[tuple]:
    return f.metadata.get("range")


def field_unit(f: dataclasses.Field) -> Optional[str]:
    return f.metadata.get("unit")


def field_when(f: dataclasses.Field) -> Optional[dict]:
    return f.metadata.get("when")


def applies(f: dataclasses.Field, owner: Any, root: Any = None) -> bool:
    """Whether ``f`` means something in ``owner``, the dataclass that holds it (or its values as a dict).

    A name in ``when`` is a field of ``owner``; one that starts with ``/``
    (``/method``) is a field of ``root``, the configuration ``owner`` sits in.
    """
    def get(obj: Any, name: str) -> Any:
        return obj.get(name) if isinstance(obj, dict) else getattr(obj, name)

    for name, values in (field_when(f) or {}).items():
        if name.startswith("/"):
            if root is None:
                raise ValueError(f"{f.name}: when names {name!r}; pass the configuration as root")
            value = get(root, name[1:])
        else:
            value = get(owner, name)
        if value not in values:
            return False
    return True


def choices(hint: Any) -> Optional[list]:
    """The allowed values of a ``Literal`` or enum type (inside ``Optional`` too), else None."""
    hint = _strip_optional(hint)
    if get_origin(hint) is typing.Literal:
        return list(get_args(hint))
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return [m.value for m in hint]
    return None


def validate(obj: Any, *, where: str = "", recursive: bool = True) -> Any:
    """Check every field of dataclass ``obj`` against its type's choices, its range and finiteness.

    Returns ``obj``. Raises :class:`ConfigError` naming the dotted key
    (``train.weight_decay``) and what is allowed. Floats must be finite
    everywhere: NaN passes every ``<`` comparison a ``__post_init__`` makes.
    """
    check_fields(type(obj), {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)},
                 where=where, recursive=recursive)
    return obj


_DOTTED = re.compile(r"[A-Za-z_]\w*(\[\d+\])*(\.[A-Za-z_]\w*(\[\d+\])*)*")


def join_key(where: str, name: str) -> str:
    """``train`` + ``lr`` -> ``train.lr``; a file name or phrase is kept apart: ``run.toml: train``."""
    if not where:
        return name
    dotted_tail = where.rpartition(": ")[2]
    return f"{where}.{name}" if _DOTTED.fullmatch(dotted_tail) else f"{where}: {name}"


def check_fields(cls: type, values: dict, *, where: str = "", recursive: bool = True) -> None:
    """:func:`validate` for the values ``cls`` is about to be built from (before its ``__post_init__``)."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in values:
            key = join_key(where, f.name)
            _check_value(hints.get(f.name, Any), values[f.name], key, f, recursive)


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict:
    return get_type_hints(cls)


def _strip_optional(hint: Any) -> Any:
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _check_value(hint: Any, value: Any, key: str, f: Optional[dataclasses.Field], recursive: bool) -> None:  # noqa: C901
    if value is None:
        return
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if recursive:
            validate(value, where=key)
        return
    allowed = choices(hint)
    if allowed is not None:
        plain = value.value if isinstance(value, enum.Enum) else value
        if plain not in allowed:
            raise ConfigError(f"{key}: {plain!r} is not one of {allowed}")
        return
    if isinstance(value, (list, tuple)):
        item_hints = get_args(_strip_optional(hint))
        for i, item in enumerate(value):
            item_hint = item_hints[min(i, len(item_hints) - 1)] if item_hints else Any
            if item_hint is Ellipsis:
                item_hint = item_hints[0]
            _check_value(item_hint, item, f"{key}[{i}]", f, recursive)
        return
    if isinstance(value, dict):
        for k, item in value.items():
            _check_value(Any, item, join_key(key, str(k)), None, recursive)
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        allowed_text = _range_text(f)
        raise ConfigError(f"{key}: {value} is not a finite number" + (f"; allowed: {allowed_text}" if allowed_text else ""))
    bounds = f.metadata.get("range") if f is not None else None
    if bounds is not None:
        lo, hi = bounds
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"{key}: {value!r} is out of range; allowed: {_range_text(f)}")


def _range_text(f: Optional[dataclasses.Field]) -> str:
    bounds = f.metadata.get("range") if f is not None else None
    if bounds is None:
        return ""
    lo, hi = bounds
    unit = f.metadata.get("unit")
    unit_text = f" {unit}" if unit else ""
    if lo is not None and hi is not None:
        return f"{lo} to {hi}{unit_text}"
    if lo is not None:
        return f"{lo} or more{unit_text}"
    return f"{hi} or less{unit_text}"
