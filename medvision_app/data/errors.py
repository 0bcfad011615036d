"""The one exception data loading raises for problems a user can fix."""

from __future__ import annotations

from medvision_app.errors import UserError


class DataError(UserError, ValueError):
    """A data folder, manifest or image is unusable; the message names it and says why."""
