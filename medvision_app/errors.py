"""The base of every error a user can cause and fix (a bad file, a bad config...).

The CLI prints such errors as one ``error: ...`` line with exit status 2 and
the GUI shows them as notifications; anything else is a bug and keeps its
traceback. Living in a module of its own, it can be caught without importing
the packages (torch, onnxruntime) that raise it.
"""


class UserError(Exception):
    """An error caused by the user's input; ``str()`` is the whole message."""
