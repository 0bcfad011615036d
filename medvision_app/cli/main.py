"""``medvision`` entry point: dispatches to the sub-command modules.

Each module in :data:`COMMAND_MODULES` has ``register(subparsers)``, which adds
its commands and sets ``func(args) -> int`` on each parser. Errors a user can
cause (a file that will not open, a bad config) derive from
:class:`medvision_app.errors.UserError`; they end in one ``error: ...`` line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys
from typing import Sequence

from medvision_app import __version__
from medvision_app.cli.requirements import check as check_requirements
from medvision_app.errors import UserError
from medvision_app.extras import explain_import_error
from medvision_app.utils.text import one_line

COMMAND_MODULES = [
    "medvision_app.cli.imaging_cmds",
    "medvision_app.cli.preprocess_cmds",
    "medvision_app.cli.model_cmds",
    "medvision_app.cli.train_cmds",
    "medvision_app.cli.search_cmds",
    "medvision_app.cli.job_cmds",
    "medvision_app.cli.report_cmds",
    "medvision_app.cli.gui_cmd",
]


class CliError(UserError):
    """A user-facing failure; ``str()`` is printed after ``error: ``."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medvision",
        description="MedVision: clinical decision support for research. Not a diagnosis.",
    )
    parser.add_argument("--version", action="version", version=f"medvision {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for dotted in COMMAND_MODULES:
        importlib.import_module(dotted).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    # `medvision PATH...` opens the paths in the workstation.
    if argv and argv[0] not in commands and not argv[0].startswith("-"):
        argv = ["gui", *argv]
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        check_requirements(args)
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's exit handler
        return status
    except UserError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _reader_went_away()
    except ImportError as exc:
        # A part the table in cli/requirements.py did not foresee (or one
        # removed after the check): still one line naming the extra.
        reason = explain_import_error(exc)
        if reason is None:
            raise
        print(f"error: {reason}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A path the user gave that the OS refused (permission, name too long,
        # disk full): one line naming it. Errors without a file are bugs.
        if exc.filename is None:
            raise
        print(f"error: {one_line(os.fsdecode(exc.filename))}: {one_line(_os_reason(exc))}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: not enough memory for this operation", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _os_reason(exc: OSError) -> str:
    from medvision_app.imaging.files import os_error_reason

    if exc.errno in (errno.ENAMETOOLONG, errno.EACCES, errno.EPERM, errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
        return os_error_reason(exc)
    return exc.strerror or type(exc).__name__


def _reader_went_away() -> int:
    """``medvision predict ... | head -1``: the reader closed the pipe; stop without a word.

    Python flushes stdout again at exit and would print a warning about the
    same broken pipe, so stdout is pointed at /dev/null first.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is no real file (captured in tests)
        pass
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
