"""Start-up of the workstation, as a new user meets it (offscreen Qt, fresh processes).

1. Import time of ``medvision_app.gui.main_window`` alone (median of 5 fresh
   interpreters), and whether that import loaded torch, torchvision or onnxruntime.
2. ``medvision gui --sample`` warm (the sample already on disk, one start
   before the ones measured): seconds from launching the command to the first
   image on screen and to the whole study, median of 5 (goal: first image at
   most 2.0 s).
3. 50 smoke starts in a row (``MEDVISION_GUI_SMOKE=60000``, each given 90 s):
   hangs, non-zero exits and stray errors on stderr (goal: none). With
   ``MEDVISION_BENCH_STARTUP_LOAD=2`` two busy loops run meanwhile, as another
   job on both cores would; ``MEDVISION_BENCH_STARTUP_N`` changes the count.

A start that hangs is sent SIGABRT with faulthandler on, so its threads'
stacks land in the result.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDVISION = Path(sys.executable).with_name("medvision")
HEAVY = ("torch", "torchvision", "onnxruntime")
HANG_S = 90
# Lines Qt's offscreen platform prints on every start: not errors.
BENIGN = re.compile(r"This plugin does not support|propagateSizeHints")
ERROR = re.compile(r"Traceback|Error|Fatal|Segmentation|Abort|core dumped", re.IGNORECASE)

IMPORT_PROBE = (
    "import sys, time, json\n"
    "t = time.perf_counter()\n"
    "import medvision_app.gui.main_window\n"
    "print(json.dumps({'s': time.perf_counter() - t, 'heavy': [m for m in %r if m in sys.modules]}))\n" % (HEAVY,)
)


def _env(tmp: Path, **extra: str) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MEDVISION_HOME=str(tmp / "home"),
               XDG_CACHE_HOME=str(tmp / "cache"), XDG_CONFIG_HOME=str(tmp / "config"), PYTHONFAULTHANDLER="1")
    env.update(extra)
    return env


def import_time(tmp: Path, n: int = 5) -> dict:
    runs = []
    for _ in range(n):
        done = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, env=_env(tmp),
                              cwd=ROOT, timeout=300)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        "main_window_import_s_median": round(statistics.median(r["s"] for r in runs), 3),
        "main_window_import_s_all": [round(r["s"], 3) for r in runs],
        "heavy_modules_after_import": sorted({m for r in runs for m in r["heavy"]}),
    }


def one_start(tmp: Path, k: int) -> dict:
    """One ``medvision gui --sample`` smoke start: its outcome and timings."""
    report = tmp / f"smoke-{k}.json"
    report.unlink(missing_ok=True)
    env = _env(tmp, MEDVISION_GUI_SMOKE="60000", MEDVISION_GUI_SMOKE_REPORT=str(report))
    launched = time.time()
    proc = subprocess.Popen([str(MEDVISION), "gui", "--sample"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=HANG_S)
        hung = False
    except subprocess.TimeoutExpired:
        hung = True
        os.killpg(proc.pid, signal.SIGABRT)  # faulthandler prints every thread's stack
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    ended = time.time()
    times = json.loads(report.read_text()) if report.is_file() else {}
    errors = [line for line in err.splitlines() if ERROR.search(line) and not BENIGN.search(line)]
    return {
        "hung": hung,
        "returncode": proc.returncode,
        "wall_s": round(ended - launched, 2),
        "window_shown_s": round(times["window_shown"] - launched, 3) if "window_shown" in times else None,
        "scanned_s": round(times["scanned"] - launched, 3) if "scanned" in times else None,
        "first_image_s": round(times["first_image"] - launched, 3) if "first_image" in times else None,
        "all_shown_s": round(times["left"] - launched, 3) if "left" in times else None,
        "reason": times.get("reason"),
        "errors": errors,
        # the whole of it: a hang's faulthandler dump covers every process of the group
        "stderr": err[-60000:] if (hung or errors or proc.returncode) else "",
    }


def first_image(tmp: Path, n: int = 5) -> dict:
    one_start(tmp, -1)  # writes the sample and warms the disk cache: not measured
    runs = [one_start(tmp, k) for k in range(n)]
    firsts = [r["first_image_s"] for r in runs if r["first_image_s"] is not None]

    def median(key: str):
        values = [r[key] for r in runs if r.get(key) is not None]
        return round(statistics.median(values), 3) if values else None
    alls = [r["all_shown_s"] for r in runs if r["all_shown_s"] is not None]
    return {
        "first_image_s_median": round(statistics.median(firsts), 3) if firsts else None,
        "first_image_s_all": firsts,
        "all_images_s_median": round(statistics.median(alls), 3) if alls else None,
        # where the time goes: launch -> window on screen -> folder scanned -> first image
        "window_shown_s_median": median("window_shown_s"),
        "scanned_s_median": median("scanned_s"),
        "goal_first_image_s": 2.0,
    }


def many_starts(tmp: Path, n: int) -> dict:
    runs = [one_start(tmp, k) for k in range(n)]
    bad = [dict(r, start=k) for k, r in enumerate(runs) if r["hung"] or r["returncode"] or r["errors"]]
    return {
        "starts": n,
        "hangs": sum(r["hung"] for r in runs),
        "nonzero_exits": sum(bool(r["returncode"]) and not r["hung"] for r in runs),
        "starts_with_stray_errors": sum(bool(r["errors"]) for r in runs),
        "wall_s_median": round(statistics.median(r["wall_s"] for r in runs), 2),
        "wall_s_worst": max(r["wall_s"] for r in runs),
        "first_image_s_median": round(statistics.median(
            [r["first_image_s"] for r in runs if r["first_image_s"] is not None] or [0]), 3),
        "failures": bad[:5],
    }


def run() -> dict:
    n = int(os.environ.get("MEDVISION_BENCH_STARTUP_N", "50"))
    load = int(os.environ.get("MEDVISION_BENCH_STARTUP_LOAD", "0"))
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        result = {"import": import_time(tmp), "warm_start": first_image(tmp)}
        busy = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(load)]
        try:
            result["repeated_starts"] = dict(many_starts(tmp, n), busy_loops=load)
        finally:
            for proc in busy:
                proc.kill()
                proc.wait()
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
