"""The hostile-input sweep: every input of tests/hostile_corpus.py through ``info``,
``render`` and ``predict``, each call a child process.

Counts tracebacks, hangs, aborts and confident answers on degenerate images
(all must be 0), and records each call's exit status, time and peak memory
(the child's own ru_maxrss, from wait4) and the slowest refusal. Children run
with a 3 GB data-segment cap, so a missing guard fails instead of taking the
machine's memory. About a quarter of an hour on two cores.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def run() -> dict:
    if not DATA.is_dir():
        return {"skipped": f"{DATA} is absent"}
    sys.path.insert(0, str(ROOT / "tests"))
    from hostile_corpus import build, summary, sweep

    with tempfile.TemporaryDirectory(prefix="medvision-hostile-") as tmp:
        start = time.perf_counter()
        cases = build(Path(tmp) / "corpus", DATA)
        built = time.perf_counter() - start
        start = time.perf_counter()
        outcomes = sweep(cases, Path(tmp) / "work", isolated_only_in_children=False, timeout=120)
        swept = time.perf_counter() - start
        figures = summary(cases, outcomes)
        _unlock(Path(tmp))
    figures["corpus_build_s"] = round(built, 1)
    figures["sweep_s"] = round(swept, 1)
    figures["peak_memory_of_any_call_mb"] = round(max(o.max_rss_mb or 0.0 for o in outcomes), 1)
    figures["refused_peak_memory_target_mb"] = 500
    figures["calls_detail"] = [
        {"case": o.case, "command": o.command, "exit": o.returncode, "seconds": round(o.seconds, 3),
         "peak_mb": round(o.max_rss_mb or 0.0, 1), "problems": o.problems}
        for o in outcomes
    ]
    return figures


def _unlock(folder: Path) -> None:
    """Give back the permissions the corpus took away, so the temporary folder can be removed.

    A locked folder hides the locked folders inside it: a few passes reach them all.
    """
    for _ in range(3):
        for path in folder.rglob("*"):
            try:
                if path.is_dir() and not path.is_symlink():
                    path.chmod(0o755)
            except OSError:
                pass
