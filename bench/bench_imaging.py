"""Imaging figures of issue 2, each measured side by side with its bare-pydicom floor.

- Opening a CBIS-DDSM mammogram (16-bit RLE, ~4400x2900) to a display-ready
  array (VOI applied, MONOCHROME handled) vs. ``pydicom.dcmread(p).pixel_array``.
- Study index files/s over ../shared/data vs. a bare loop of
  ``pydicom.dcmread(p, stop_before_pixels=True)`` over the same files.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from pathlib import Path

import pydicom

from medvision_app.imaging import open_image
from medvision_app.imaging.study_index import iter_files, read_header, scan_folder

DATA = Path(os.environ.get("MEDVISION_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"
MAMMOGRAM = DATA / "cbis-ddsm-P_00173" / "sfm-benign-0_1-130.dcm"


def _time(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def open_mammogram(repeat: int = 9) -> dict:
    ours, bare = [], []
    ours += _time(lambda: open_image(MAMMOGRAM).display(), 1)  # warm both paths
    bare += _time(lambda: pydicom.dcmread(MAMMOGRAM).pixel_array, 1)
    ours, bare = [], []
    for _ in range(repeat):  # interleaved, so machine load hits both alike
        bare += _time(lambda: pydicom.dcmread(MAMMOGRAM).pixel_array, 1)
        ours += _time(lambda: open_image(MAMMOGRAM).display(), 1)
    shape = open_image(MAMMOGRAM).shape
    return {
        "file": MAMMOGRAM.name,
        "shape": list(shape),
        "medvision_display_ready_ms_median": round(statistics.median(ours) * 1e3, 1),
        "bare_pydicom_pixel_array_ms_median": round(statistics.median(bare) * 1e3, 1),
        "ratio_ours_over_bare": round(statistics.median(ours) / statistics.median(bare), 3),
        "target_ratio_at_most": 1.2,
    }


def _bare_loop(files) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            try:
                pydicom.dcmread(path, stop_before_pixels=True)
            except Exception:
                pass


def _walk(root: Path):
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            yield os.path.join(dirpath, name)


def study_index(repeat: int = 3) -> dict:
    """Our scan (listing the folder included) against the bare loop, with and without its listing."""
    files = list(iter_files(DATA))
    scan_folder(DATA)  # warm the OS file cache for every contender
    ours, bare_listed, bare_given = [], [], []
    for _ in range(repeat):
        bare_given += _time(lambda: _bare_loop(files), 1)
        bare_listed += _time(lambda: _bare_loop(_walk(DATA)), 1)
        ours += _time(lambda: scan_folder(DATA), 1)
    index = scan_folder(DATA)
    dicom_files = [r.path for r in index.instances() if r.format == "DICOM"]
    ours_dcm, bare_dcm = [], []
    for _ in range(repeat * 5):
        bare_dcm += _time(lambda: _bare_loop(dicom_files), 1)
        ours_dcm += _time(lambda: [read_header(p) for p in dicom_files], 1)
    n = len(files)
    med = statistics.median
    return {
        "files": n,
        "indexed_images": index.n_instances,
        "unreadable": len(index.unreadable),
        "medvision_scan_files_per_s": round(n / med(ours)),
        "bare_dcmread_loop_with_listing_files_per_s": round(n / med(bare_listed)),
        "bare_dcmread_loop_list_given_files_per_s": round(n / med(bare_given)),
        "ratio_vs_bare_with_listing": round(med(bare_listed) / med(ours), 3),
        "ratio_vs_bare_list_given": round(med(bare_given) / med(ours), 3),
        "dicom_only_files": len(dicom_files),
        "dicom_only_ratio_read_header_vs_bare": round(med(bare_dcm) / med(ours_dcm), 3),
        "target_ratio_at_least": 0.9,
    }


def run() -> dict:
    if not DATA.is_dir():
        return {"skipped": f"{DATA} is absent"}
    return {"open_mammogram": open_mammogram(), "study_index": study_index()}
