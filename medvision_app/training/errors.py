"""The exception a training run raises for a reason the user should read."""

from __future__ import annotations

from medvision_app.errors import UserError


class TrainingError(UserError):
    """A run cannot go on (non-finite loss, unusable checkpoint, bad settings); ``str()`` says why."""
