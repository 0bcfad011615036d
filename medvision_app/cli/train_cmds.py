"""``medvision train`` and ``medvision evaluate``: run folders from the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from pathlib import Path

from medvision_app.cli.main import CliError
from medvision_app.events import CancelToken, Event, Progress


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
    elif event.kind == "CheckpointRecovered":
        print(f"warning: {event.message}", file=sys.stderr)


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
    from medvision_app.jobs import JobSpec, default_run_dir
    from medvision_app.jobs.execute import run_for_cli
    from medvision_app.jobs.summary import skipped_images
    from medvision_app.utils.config_io import to_dict

    cancel = CancelToken()
    if args.resume is not None:
        if args.overrides or args.out:
            raise CliError("--resume continues a run as it was configured: drop --set and --out")
        if not (args.resume / "config.json").is_file():
            raise CliError(f"{args.resume}: not a run folder (no config.json)")
        run_dir = args.resume
        spec = JobSpec("train", _run_config(run_dir), str(run_dir), resume=True)
    else:
        config = to_dict(_load_config(args.config, args.overrides))
        run_dir = args.out or default_run_dir("train", config)
        spec = JobSpec("train", config, str(run_dir), config_file=str(args.config))
    # The job layer names the run folder, records the job and writes events.jsonl, as for the GUI's jobs.
    with _ctrl_c_cancels(cancel):
        status, summary = run_for_cli(spec, emit=_loading_bar, cancel=cancel, progress=True)
    if status == "cancelled":
        if (run_dir / "checkpoints" / "last.pt").is_file():
            print(f"resume with: medvision train --resume {run_dir}", file=sys.stderr)
        elif summary.get("epochs") is None:
            print("cancelled while loading the data", file=sys.stderr)
        return 130
    count = skipped_images(run_dir)
    if count is not None:
        print(f"warning: {count} unreadable image(s) were left out; see {run_dir / 'skipped.csv'}", file=sys.stderr)
    print(json.dumps(summary))
    return 0


def _run_config(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"{run_dir / 'config.json'}: cannot read: {exc}") from None


def _evaluate(args: argparse.Namespace) -> int:
    from medvision_app.training.run import evaluate_run

    if not (args.run_dir / "config.json").is_file():
        raise CliError(f"{args.run_dir}: not a run folder (no config.json)")
    report = evaluate_run(args.run_dir, args.split, emit=_loading_bar)
    print(json.dumps({k: report.get(k) for k in ("split", "accuracy", "balanced_accuracy", "auc", "macro_f1")}))
    return 0
