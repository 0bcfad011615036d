"""The one exception type raised when an image or study cannot be opened."""

from __future__ import annotations

from pathlib import Path

from medvision_app.errors import UserError


class ImageOpenError(UserError):
    """An image file could not be opened, read or decoded.

    Attributes
    ----------
    path : Path
        The file that failed.
    reason : str
        A plain-words explanation, for example
        ``"JPEG Extended pixel data could not be decoded: ..."``.

    ``str(err)`` is ``"<path>: <reason>"``: the CLI prints it after ``error:``
    and the GUI shows it in a notification. The library's own exception (from
    pydicom, Pillow, a codec) is chained as ``__cause__`` for the log, never shown
    to the user as a traceback.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
