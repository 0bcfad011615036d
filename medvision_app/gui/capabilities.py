"""Hide or disable what this install cannot do (a reader build has no torch; a core+gui install may lack a runtime).

Training, search, evaluating and exporting need the ``train`` extra (torch);
the AI panel needs an ONNX runtime. Clicking a control that would only fail
with an ImportError in a job is worse than a control that says up front
which part it needs, so those controls are disabled with that sentence, and
the job buttons that act on existing runs are hidden.
"""

from __future__ import annotations

from medvision_app import extras

# Job monitor buttons that start torch work on an existing run.
TRAINING_BUTTONS = ("resume", "evaluate", "export", "duplicate")


def apply_capabilities(window) -> list[str]:
    """Adjust ``window`` (a MainWindow) to the installed extras; returns the messages shown."""
    shown = []
    if not extras.available("train"):
        text = extras.message("train", "Training and search")
        action = getattr(window, "act_new_job", None)
        if action is not None:
            action.setEnabled(False)
            action.setText("New training or search… (needs the train extra)")
            action.setToolTip(text)
            action.setStatusTip(text)
        monitor = getattr(window, "job_monitor", None)
        for key in TRAINING_BUTTONS:
            button = getattr(monitor, "buttons", {}).get(key)
            if button is not None:
                button.setVisible(False)
        shown.append(text)
    if not extras.available("runtime"):
        text = extras.message("runtime", "The AI panel")
        panel = getattr(window, "ai", None)
        if panel is not None:
            panel.setEnabled(False)
            panel.setToolTip(text)
            panel.model_info.setText(text)
        shown.append(text)
    return shown
