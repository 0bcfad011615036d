"""``medvision gui [--sample] [PATH...]``: the workstation (``make run`` opens the sample study)."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import sys
from pathlib import Path

from medvision_app.cli.main import CliError

EXIT_GRACE_S = 20


def register(sub) -> None:
    parser = sub.add_parser(
        "gui",
        help="open the workstation",
        description="Open the MedVision workstation, optionally on files or a folder. Decision support, not a diagnosis.",
    )
    parser.add_argument("paths", nargs="*", type=Path, help="image files or one folder to open")
    parser.add_argument("--sample", action="store_true", help="open the bundled sample study (first run)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not p.exists()]
    if missing:
        raise CliError(f"{missing[0]}: no such file or folder")
    try:
        from medvision_app.gui.app import run as run_gui
    except ImportError as exc:  # PySide6 or pyqtgraph missing from a partial install
        raise CliError(f"the workstation needs PySide6 and pyqtgraph: {exc}") from exc
    code = run_gui(args.paths, sample=args.sample)
    from medvision_app.gui.workers import unfinished_jobs

    # The window is closed and every job has ended or been given up on; what
    # is left is the interpreter's own teardown (Qt objects, helper pools of
    # other parts). One start in 50 under load still hung there: after
    # EXIT_GRACE_S the threads' stacks go to stderr and the process ends.
    # Not inside a test process, which goes on after this call.
    if "PYTEST_CURRENT_TEST" not in os.environ:
        faulthandler.dump_traceback_later(EXIT_GRACE_S, exit=True)
    if unfinished_jobs():
        # A job that would not end even when cancelled (its wait is logged):
        # finalizing the interpreter under it would stop its pool thread dead
        # and leave Qt's thread pool waiting for it for ever. Leave without.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
