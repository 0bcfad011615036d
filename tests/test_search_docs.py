"""The search configuration's documentation names every key the config has."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from medvision_app.search.config import SearchConfig

DOC = Path(__file__).resolve().parents[1] / "docs" / "search.md"


def _keys(cls, prefix=""):
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default):
            yield from _keys(type(default), f"{prefix}{f.name}.")
        else:
            yield prefix + f.name


def test_every_search_config_key_is_documented():
    text = DOC.read_text(encoding="utf-8")
    missing = [k for k in _keys(SearchConfig) if f"| `{k}` |" not in text]
    assert not missing, f"docs/search.md lacks {missing}"
