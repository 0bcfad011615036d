"""Contrast stretching and CLAHE on a CBIS-DDSM mammogram: time per call and peak memory.

Peak memory is what tracemalloc sees numpy allocate during one call (numpy
reports its buffers to tracemalloc), next to the size of the input itself.
"""

from __future__ import annotations

import os
import statistics
import time
import tracemalloc
from pathlib import Path

from medvision_app.imaging import open_image
from medvision_app.preprocessing import clahe, contrast_stretch, percentile_stretch

DATA = Path(os.environ.get("MEDVISION_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"
MAMMOGRAM = DATA / "cbis-ddsm-P_00173" / "sfm-benign-0_1-130.dcm"


def _measure(fn, image, repeat: int) -> dict:
    fn(image)  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn(image)
        times.append(time.perf_counter() - t)
    tracemalloc.start()
    fn(image)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "ms_median": round(statistics.median(times) * 1e3, 1),
        "ms_min": round(min(times) * 1e3, 1),
        "peak_mb": round(peak / 2**20, 1),
        "peak_over_input": round(peak / image.nbytes, 2),
    }


def run() -> dict:
    if not MAMMOGRAM.is_file():
        return {"skipped": f"{MAMMOGRAM} is absent"}
    stored = open_image(MAMMOGRAM).frame(0)
    shown = open_image(MAMMOGRAM).display_float(0)
    out = {
        "image": {"file": MAMMOGRAM.name, "shape": list(stored.shape), "dtype": str(stored.dtype),
                  "input_mb": round(stored.nbytes / 2**20, 1)},
        "contrast_stretch_stored_uint16": _measure(lambda a: contrast_stretch(a), stored, 7),
        "percentile_stretch_1_99_stored_uint16": _measure(lambda a: percentile_stretch(a, low=1, high=99), stored, 5),
        "clahe_stored_uint16": _measure(lambda a: clahe(a, clip_limit=0.01), stored, 3),
        "clahe_display_float32": _measure(lambda a: clahe(a, clip_limit=0.01), shown, 3),
    }
    try:
        from skimage import exposure

        out["skimage_equalize_adapthist_stored_uint16"] = _measure(
            lambda a: exposure.equalize_adapthist(a, clip_limit=0.01), stored, 1
        )
    except MemoryError:
        out["skimage_equalize_adapthist_stored_uint16"] = "out of memory"
    out["load_average_1min"] = round(os.getloadavg()[0], 2)
    return out
