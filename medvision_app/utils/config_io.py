"""Dataclass configurations to and from plain dicts, JSON and TOML.

Every run configuration in MedVision is a dataclass so that a run can be
repeated exactly from the file it wrote. Nested dataclasses, tuples, enums,
``Optional`` and ``list[Dataclass]`` fields are supported; unknown keys are an
error (a typo in a config must not be silently ignored).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar, Union, get_args, get_origin, get_type_hints

from medvision_app.utils.atomic import atomic_write_text
from medvision_app.utils.config_schema import ConfigError, check_fields, join_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

T = TypeVar("T")

__all__ = ["ConfigError", "to_dict", "from_dict", "dumps", "loads", "save_config", "load_config", "apply_overrides"]


def to_dict(obj: Any) -> Any:
    """Convert a dataclass (recursively) to JSON/TOML-compatible values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def from_dict(cls: type[T], data: Mapping[str, Any], *, where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, converting nested values by type hint."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected a table, got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(
            f"{where or cls.__name__}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"expected some of {', '.join(sorted(names))}"
        )
    kwargs = {}
    for name in names:
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], join_key(where, name))
    # Before construction, so a range or a NaN is reported under its own key rather than by
    # whatever __post_init__ trips over first; nested tables were checked by their own call.
    check_fields(cls, kwargs, where=where, recursive=False)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None


def _convert(tp: Any, value: Any, where: str) -> Any:  # noqa: C901 - one branch per supported type
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        last_error: Exception | None = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except (ConfigError, TypeError, ValueError) as exc:
                last_error = exc
        # The inner conversion already named the key: say it once.
        message = str(last_error)
        raise ConfigError(message if message.startswith(f"{where}:") else f"{where}: {message}")
    if origin is typing.Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {list(get_args(tp))}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where=where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ConfigError(f"{where}: {value!r} is not one of {[m.value for m in tp]}") from None
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=False)))
        item = args[0] if args else Any
        out = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        key_t, val_t = get_args(tp) or (Any, Any)
        return {k: _convert(val_t, v, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return value
    return value


def _strip_none(value: Any) -> Any:
    # TOML has no null: a None field is simply left out and comes back as its default.
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def dumps(obj: Any, fmt: str = "json") -> str:
    data = to_dict(obj)
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=False) + "\n"
    if fmt == "toml":
        import tomli_w

        return tomli_w.dumps(_strip_none(data))
    raise ConfigError(f"unknown config format {fmt!r} (json or toml)")


def loads(cls: type[T], text: str, fmt: str = "json", *, source: str = "") -> T:
    try:
        data = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{source or 'config'}: not valid {fmt.upper()}: {exc}") from None
    return from_dict(cls, data, where=source)


def _fmt_for(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix == ".json":
        return "json"
    raise ConfigError(f"{path}: config files must end in .json or .toml")


def save_config(obj: Any, path: str | Path) -> None:
    """Write a dataclass config atomically as JSON or TOML (chosen by suffix)."""
    path = Path(path)
    atomic_write_text(path, dumps(obj, _fmt_for(path)))


def load_config(cls: type[T], path: str | Path) -> T:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return loads(cls, text, _fmt_for(path), source=str(path))


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``key.sub=value`` overrides (the CLI's ``--set``) to a nested dict.

    Values are parsed as TOML scalars or arrays (``true``, ``3``, ``0.1``,
    ``[1, 2]``); anything that does not parse is kept as text.
    """
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, raw = item.split("=", 1)
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part} is not a table")
        node[parts[-1]] = value
    return data
