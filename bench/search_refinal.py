"""Retrain a finished search's answer with other ``final.*`` settings, without searching again.

    python -m bench.search_refinal SEARCH_DIR --tag se-bbnas-mnist --set final.train_limit=0 \
        --set final.schedule='"cosine"' --set final.epochs=10

The search phase does not read ``final.*``, so its answer is the one a search
with these settings would have returned; only the retraining is repeated,
into ``SEARCH_DIR/refinal/SETTINGS/`` (one folder per set of overrides, so
a stopped retraining resumes there and other settings never meet its
checkpoint). The figures are merged into ``bench/results/search-TAG.json``
under ``retrained``, beside the search's own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def refinal(folder: Path, overrides: list[str]) -> dict:
    from medvision_app.search.config import SearchConfig
    from medvision_app.search.runner import _final, _load
    from medvision_app.search.state import load_state
    from medvision_app.utils.config_io import apply_overrides, from_dict

    state = load_state(folder)
    if not state.get("result_id"):
        raise SystemExit(f"{folder}: the search has no answer yet")
    bad = [o for o in overrides if not o.startswith("final.")]
    if bad:
        raise SystemExit(f"only final.* settings can change without searching again, not {bad}")
    cfg = from_dict(SearchConfig, apply_overrides(state["config"], overrides))
    started = time.perf_counter()
    final = _final(cfg, folder / "refinal" / _slug(overrides), _load(cfg), state, lambda _e: None, None)
    return {"overrides": overrides, "wall_s": round(time.perf_counter() - started, 1),
            "train_limit": cfg.final.train_limit, "runs": final["runs"]}


_SLUG_MAX = 120  # characters of a retraining's folder name; a file name holds 255 bytes


def _slug(overrides: list[str]) -> str:
    """A folder name for a set of overrides: ``final.epochs=4 final.schedule=cosine`` -> ``epochs-4+schedule-cosine``."""
    parts = sorted(o.removeprefix("final.").replace("=", "-").replace('"', "").replace("'", "") for o in overrides)
    slug = "+".join("".join(c if c.isalnum() or c in "-._" else "_" for c in p) for p in parts)
    if len(slug) > _SLUG_MAX:
        # an augmentation section's overrides pass the file-name limit
        digest = hashlib.sha256(slug.encode()).hexdigest()[:12]
        slug = f"{slug[:_SLUG_MAX - 13]}~{digest}"
    return slug or "same"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search_refinal", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--tag", required=True, help="the search benchmark's result: bench/results/search-TAG.json")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="final.KEY=VALUE")
    args = parser.parse_args(argv)
    figures = refinal(args.folder, args.overrides)
    print(json.dumps(figures, indent=2))
    path = RESULTS / f"search-{args.tag}.json"
    from medvision_app.utils.atomic import atomic_write_text

    report = json.loads(path.read_text(encoding="utf-8"))
    key = next(k for k in report["result"] if isinstance(report["result"][k], dict) and "final" in report["result"][k])
    report["result"][key]["retrained"] = figures
    atomic_write_text(path, json.dumps(report, indent=2) + "\n")
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
