"""Workstation responsiveness (offscreen Qt).

1. Opening the CBIS-DDSM four-view folder: the largest event-loop gap (a
   QTimer probe every 5 ms) while the four 12-megapixel mammograms decode,
   show and their thumbnails render; the time from the open to all four
   images on screen; the time until the last thumbnail.
2. The preprocessing panel on a 2000x2000 image: a simulated slider drag
   (one edit every 30 ms), latency from each edit to its preview on screen
   (median, worst), the full-resolution latency after release, and the
   event-loop gap meanwhile.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
CBIS = Path(os.environ.get("MEDVISION_SHARED", ROOT.parent / "shared")) / "data" / "cbis-ddsm-P_00173"


class GapProbe:
    """Records the largest interval between ticks of a 5 ms QTimer."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last = None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = None
        self.gaps.clear()
        self.timer.start()

    def stop(self) -> dict:
        self.timer.stop()
        gaps = sorted(self.gaps) or [0.0]
        return {
            "max_gap_ms": round(gaps[-1] * 1000, 1),
            "p99_gap_ms": round(gaps[int(0.99 * (len(gaps) - 1))] * 1000, 1),
            "ticks": len(self.gaps),
        }


def _spin(app, condition, timeout: float) -> bool:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.001)
    return False


def bench_four_view(app, tmp: Path) -> dict:
    from PySide6.QtCore import QSettings

    from medvision_app.gui.main_window import MainWindow
    from medvision_app.gui.workers import running_workers

    if not CBIS.is_dir():
        return {"skipped": f"{CBIS} is absent"}
    window = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    window.resize(1600, 1000)
    window.show()
    _spin(app, lambda: False, 0.5)
    # The machine's own noise: the same probe with nothing loading.
    probe = GapProbe()
    probe.start()
    _spin(app, lambda: False, 2.0)
    baseline = probe.stop()
    probe = GapProbe()
    probe.start()
    shown_at: dict = {}
    window.grid.allShown.connect(lambda: shown_at.setdefault("all", time.perf_counter()))
    t0 = time.perf_counter()
    window.open_paths([CBIS])
    ok = _spin(app, lambda: "all" in shown_at and all(v.image is not None for v in window.grid.visible_viewports()), 60)
    t_four = time.perf_counter() - t0
    _spin(app, lambda: not window.browser.is_scanning() and window.browser.pending_thumbnails() == 0
          and running_workers() == 0, 60)
    t_done = time.perf_counter() - t0
    _spin(app, lambda: False, 0.3)
    gaps = probe.stop()
    result = {
        "images_on_screen": sum(v.image is not None for v in window.grid.visible_viewports()),
        "hanging": window.grid.hanging.protocol if window.grid.hanging else None,
        "open_to_four_images_s": round(t_four, 3) if ok else None,
        "open_to_thumbnails_and_panels_done_s": round(t_done, 3),
        **{f"load_{k}": v for k, v in gaps.items()},
        "idle_baseline_max_gap_ms": baseline["max_gap_ms"],
    }
    # Window/level drag on the four linked mammograms: the GUI-thread cost of one drag step.
    viewport = window.grid.visible_viewports()[0]
    steps = []
    for k in range(20):
        start = time.perf_counter()
        viewport.box.windowDragged.emit(4.0, 2.0 if k % 2 else -2.0)
        steps.append(time.perf_counter() - start)
    viewport.box.windowDragFinished.emit()
    result["linked_wl_drag_step_ms_median"] = round(statistics.median(steps) * 1000, 1)
    result["linked_wl_drag_step_ms_worst"] = round(max(steps) * 1000, 1)
    _spin(app, lambda: running_workers() == 0, 30)
    window.close()
    return result


def bench_preprocessing(app, op: str, param: str, values) -> dict:
    import numpy as np

    from medvision_app.gui.preprocessing_panel import PreprocessingPanel
    from medvision_app.samples import mammogram_phantom

    source = mammogram_phantom("L", "MLO", shape=(2000, 2000), seed=1).astype(np.float32)
    source /= source.max()
    panel = PreprocessingPanel()
    panel.resize(700, 900)
    panel.show()
    shown: list = []
    panel.previewShown.connect(lambda tag: shown.append((tag, time.perf_counter())))
    panel.set_source(source)
    _spin(app, lambda: any(t == "full" for t, _ in shown), 60)
    panel.add_step(op)
    _spin(app, lambda: not panel.engine.busy(), 60)
    slider = panel._form.controls[param].slider
    panel.engine.latencies.clear()
    probe = GapProbe()
    probe.start()
    slider.setSliderDown(True)
    for value in values:
        slider.setValue(value)
        _spin(app, lambda: False, 0.03)
    _spin(app, lambda: not panel.engine.busy(), 30)
    drag = [s for tag, s in panel.engine.latencies if tag == "reduced"]
    panel.engine.latencies.clear()
    slider.setSliderDown(False)
    _spin(app, lambda: not panel.engine.busy(), 60)
    full = [s for tag, s in panel.engine.latencies if tag == "full"]
    gaps = probe.stop()
    panel.close()
    return {
        "op": op,
        "image": "2000x2000",
        "edits": len(values),
        "previews_shown_while_dragging": len(drag),
        "drag_latency_ms_median": round(statistics.median(drag) * 1000, 1) if drag else None,
        "drag_latency_ms_worst": round(max(drag) * 1000, 1) if drag else None,
        "release_full_resolution_ms": round(max(full) * 1000, 1) if full else None,
        **{f"drag_{k}": v for k, v in gaps.items()},
    }


def run() -> dict:
    from medvision_app.gui import decoder
    from medvision_app.gui.app import create_app
    from medvision_app.gui.theme import apply_theme

    app = create_app(["bench"])
    apply_theme(app, "dark")
    decoder.warm_up()  # as `medvision gui` does at start-up
    _spin(app, lambda: False, 3.0)
    with tempfile.TemporaryDirectory() as tmp:
        four = bench_four_view(app, Path(tmp))
    decoder.shutdown()
    return {
        "four_view_cbis_ddsm": four,
        "preprocessing_percentile_stretch": bench_preprocessing(app, "percentile_stretch", "high", range(990, 890, -4)),
        "preprocessing_clahe": bench_preprocessing(app, "clahe", "clip_limit", range(10, 260, 10)),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
