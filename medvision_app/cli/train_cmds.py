"""``medvision train`` and ``medvision evaluate``: run folders from the command line."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import signal
import sys
import time
from pathlib import Path

from medvision_app.cli.main import CliError
from medvision_app.events import Cancelled, CancelToken, Event, Progress


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a classifier from a config file, or resume a run",
        description="Train a classifier. Relative data paths are resolved against the current "
        "folder, then against the project root above the config file.",
    )
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, metavar="CONFIG", help="a .toml or .json TrainConfig")
    source.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set train.epochs=5 (repeatable)")
    train.add_argument("--out", type=Path, metavar="RUN_DIR", help="run folder (default: runs/<model>-<time>)")
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser("evaluate", help="evaluate a run folder's best checkpoint")
    evaluate.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    evaluate.add_argument("--split", default="test", choices=("train", "val", "test"))
    evaluate.set_defaults(func=_evaluate)


def _loading_bar(event: Event) -> None:
    if isinstance(event, Progress) and sys.stderr.isatty():
        sys.stderr.write(f"\r{event.message}: {event.done}/{event.total}")
        if event.done == event.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


@contextlib.contextmanager
def _ctrl_c_cancels(cancel: CancelToken):
    """The first Ctrl-C stops the run cleanly at the next batch; a second one interrupts at once."""

    def handler(_signum, _frame):
        cancel.cancel()
        signal.signal(signal.SIGINT, previous)
        print("\nstopping after this batch (Ctrl-C again to abort now)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _load_config(path: Path, overrides: list[str]):
    from medvision_app.training.config import TrainConfig
    from medvision_app.utils.config_io import apply_overrides, from_dict, load_config, to_dict

    config = load_config(TrainConfig, path)
    if overrides:
        config = from_dict(TrainConfig, apply_overrides(to_dict(config), overrides), where=str(path))
    return config


def _train(args: argparse.Namespace) -> int:
    from medvision_app.training.run import resume_run, start_run

    cancel = CancelToken()
    if args.resume is not None:
        if args.overrides or args.out:
            raise CliError("--resume continues a run as it was configured: drop --set and --out")
        if not (args.resume / "config.json").is_file():
            raise CliError(f"{args.resume}: not a run folder (no config.json)")
        run_dir = args.resume
        job = functools.partial(resume_run, run_dir)
    else:
        config = _load_config(args.config, args.overrides)
        run_dir = args.out or Path("runs") / f"{config.model.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        job = functools.partial(start_run, config, run_dir, config_file=args.config)
    try:
        with _ctrl_c_cancels(cancel):
            result = job(emit=_loading_bar, cancel=cancel, progress=True)
    except Cancelled:
        print("cancelled while loading the data", file=sys.stderr)
        return 130
    if result.reason == "cancelled":
        if (run_dir / "checkpoints" / "last.pt").is_file():
            print(f"resume with: medvision train --resume {run_dir}", file=sys.stderr)
        return 130
    skipped = run_dir / "skipped.csv"
    if skipped.is_file():
        count = len(skipped.read_text(encoding="utf-8").splitlines()) - 1
        print(f"warning: {count} unreadable image(s) were left out; see {skipped}", file=sys.stderr)
    eval_path = run_dir / "eval.json"
    summary = {"run_dir": str(run_dir), "epochs": result.epochs_run, "stopped": result.reason}
    if eval_path.is_file():
        report = json.loads(eval_path.read_text(encoding="utf-8"))
        summary.update({k: report.get(k) for k in ("split", "accuracy", "balanced_accuracy", "auc")})
    print(json.dumps(summary))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from medvision_app.training.run import evaluate_run

    if not (args.run_dir / "config.json").is_file():
        raise CliError(f"{args.run_dir}: not a run folder (no config.json)")
    report = evaluate_run(args.run_dir, args.split, emit=_loading_bar)
    print(json.dumps({k: report.get(k) for k in ("split", "accuracy", "balanced_accuracy", "auc", "macro_f1")}))
    return 0
