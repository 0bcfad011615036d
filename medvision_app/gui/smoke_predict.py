"""Smoke runs that also predict (``MEDVISION_GUI_SMOKE_PREDICT=1``): the package test's proof that the AI panel works.

A built reader can open images and still miss onnxruntime's library, a
model file or the helper processes' entry point; only a real prediction
through the AI panel shows all of them. The panel itself starts analysing
the sample study on a first run, so this waits for that when it is under
way and otherwise asks for the image on screen.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QTimer

POLL_MS = 200


def predict_then(window, done: Callable[[dict], None]) -> None:
    """Have ``window``'s AI panel predict at least one image, then call ``done(summary)`` once."""
    panel = window.ai
    state = {"asked": False, "finished": False}

    def finish(summary: dict) -> None:
        if not state["finished"]:
            state["finished"] = True
            timer.stop()
            done(summary)

    def on_failed(message: str, details: str) -> None:
        finish({"prediction": [{"path": "", "status": "error", "reason": f"{message}: {details}"}]})

    def poll() -> None:
        results = panel.results()
        if results and not panel.busy:
            finish({"prediction": [{"path": r.path, "status": r.status, "reason": r.reason, "model": r.model,
                                    "probabilities": dict(r.probabilities), "heatmap": r.heatmap is not None}
                                   for r in results]})
        elif not panel.busy and not state["asked"] and panel.selected_entry() is not None \
                and not getattr(panel, "_sample_pending", False):
            state["asked"] = True
            panel.analyse_image()

    panel.failed.connect(on_failed)
    timer = QTimer(window)
    timer.timeout.connect(poll)
    timer.start(POLL_MS)
