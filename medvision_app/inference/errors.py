"""The one exception raised when a model cannot be exported, loaded or trusted."""

from __future__ import annotations

from pathlib import Path

from medvision_app.errors import UserError


class ModelError(UserError):
    """A model file was refused, or an export was not accepted.

    Attributes
    ----------
    path : Path
        The model file (or run folder) concerned.
    reason : str
        Plain words, for example ``"graph hash does not match its card"``.

    ``str(err)`` is ``"<path>: <reason>"``, which the CLI prints after ``error:``.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
