"""The reader build (make package) against the virtual environment: size, archive, start-to-first-image, build time.

Start-to-first-image is what a user feels: from launching ``medvision gui
--sample`` (the built ``build/reader/dist/medvision/medvision`` or
``.venv/bin/medvision``) to the first mammogram of the sample study on
screen, offscreen, in fresh processes, read from the smoke report
(``MEDVISION_GUI_SMOKE_REPORT``). One warm-up start each, then ``N``
measured starts (default 3) taken in turns, so both see the same load.
The build time is the one ``packaging/build_reader.sh`` recorded.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "build" / "reader" / "dist" / "medvision"
COMMANDS = {"reader": [str(APP / "medvision")], "venv": [str(ROOT / ".venv" / "bin" / "medvision")]}


def _first_image_s(kind: str, tmp: Path) -> float | None:
    report = tmp / f"{kind}.json"
    report.unlink(missing_ok=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp), XDG_CONFIG_HOME=str(tmp / "config"),
               XDG_CACHE_HOME=str(tmp / "cache"), MEDVISION_HOME=str(tmp / "home"),
               MEDVISION_GUI_SMOKE="120000", MEDVISION_GUI_SMOKE_REPORT=str(report))
    started = time.time()
    subprocess.run([*COMMANDS[kind], "gui", "--sample"], capture_output=True, env=env, cwd=tmp, timeout=300)
    if not report.is_file():
        return None
    first = json.loads(report.read_text()).get("first_image")
    return None if first is None else first - started


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def run() -> dict:
    if not (APP / "medvision").is_file():
        return {"skipped": f"{APP} is not built: run make package"}
    n = int(os.environ.get("MEDVISION_BENCH_READER_N", "3"))
    times: dict[str, list[float]] = {"reader": [], "venv": []}
    failed: dict[str, int] = {"reader": 0, "venv": 0}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for kind in times:
            _first_image_s(kind, tmp)  # warm-up: disk cache, fontconfig cache, sample paths
        for _ in range(n):
            for kind in times:
                seconds = _first_image_s(kind, tmp)
                if seconds is None:
                    failed[kind] += 1
                else:
                    times[kind].append(seconds)
    result: dict = {
        # the limit is 600 MB (decimal); MiB beside it, as du -h counts
        "reader_folder_mb": round(_folder_bytes(APP) / 1e6, 1),
        "reader_folder_mib": round(_folder_bytes(APP) / 2**20, 1),
        "limit_mb": 600,
        "archives_mb": {p.name: round(p.stat().st_size / 1e6, 1)
                     for p in sorted((ROOT / "dist").glob("medvision-reader-*.tar.gz"))},
        "first_image_s": {kind: [round(t, 2) for t in values] for kind, values in times.items()},
        "failed_starts": failed,
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if times["reader"] and times["venv"]:
        reader, venv = statistics.median(times["reader"]), statistics.median(times["venv"])
        result.update(first_image_s_median={"reader": round(reader, 2), "venv": round(venv, 2)},
                      reader_over_venv=round(reader / venv, 2))
    build = ROOT / "build" / "reader" / "build-time.json"
    if build.is_file():
        result["build"] = json.loads(build.read_text())
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
