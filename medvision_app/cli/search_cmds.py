"""``medvision search``: run or resume a neural architecture search from the command line."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Optional

from medvision_app.cli.main import CliError
from medvision_app.events import Event

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """``"30m"``, ``"1h30m"``, ``"90s"`` or ``"90"`` to seconds."""
    match = _DURATION.match(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise CliError(f"--budget {text!r}: expected a duration such as 30m, 1h30m or 90s")
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return h * 3600 + m * 60 + s


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "search", help="design a CNN for a dataset (BbNAS, SE-BbNAS or ENAS), or resume a search",
        description="Neural architecture search. The search folder holds history.jsonl, best.json, "
        "summary.md and the retrained model as a run folder; --resume continues a killed search.",
    )
    p.add_argument("--method", choices=("bbnas", "se-bbnas", "enas"), help="search method")
    p.add_argument("--data", type=Path, metavar="PATH", help="MNIST IDX folder or MedMNIST .npz")
    p.add_argument("--config", type=Path, metavar="CONFIG", help="a .toml or .json SearchConfig")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set candidate.max_epochs=3 (repeatable)")
    p.add_argument("--budget", metavar="DURATION", help="time budget of the search, e.g. 30m")
    p.add_argument("--max-iterations", type=int, metavar="N", help="BbNAS iterations or ENAS epochs")
    p.add_argument("--workers", type=int, metavar="N", help="candidate-training worker processes")
    p.add_argument("--executor", choices=("auto", "local", "process", "ray"),
                   help="where children train: this process, a process pool, or a Ray cluster")
    p.add_argument("--address", metavar="auto|HOST:PORT",
                   help="the Ray cluster to join (with --executor ray; default: start a local one)")
    p.add_argument("--out", type=Path, metavar="DIR", help="search folder (default: searches/<method>-<time>)")
    p.add_argument("--resume", type=Path, metavar="DIR", help="continue the search in DIR")
    p.set_defaults(func=_search)


class _Display:
    """One line per finished candidate or iteration on stderr; a live epoch line on a terminal."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()

    def __call__(self, event: Event) -> None:
        kind, d = event.kind, event.to_dict()
        if kind == "CandidateStarted":
            self._line(f"[it {d['iteration']}] {d['candidate_id']} {d['transformation']}: {d['genotype']} "
                       f"({d['params']:,} params)")
        elif kind == "CandidateEpoch" and self.tty:
            self.stream.write(f"\r  {d['candidate_id']} epoch {d['epoch']}: val acc {d['val_accuracy']:.4f} "
                              f"loss {d['val_loss']:.4f}   ")
            self.stream.flush()
        elif kind == "CandidateFinished":
            notes = [f"inherited {d['inherited']:.0%}" if d.get("inherited") else "",
                     "discarded after epoch 1" if d.get("discarded") else "", "halted" if d.get("halted") else ""]
            extra = "; ".join(n for n in notes if n)
            self._line(f"  {d['candidate_id']}: val acc {d['accuracy']:.4f}, {d['epochs']} epochs, {d['seconds']:.1f} s"
                       + (f" ({extra})" if extra else ""))
        elif kind == "IterationFinished":
            stop = f" -> stop ({d['stop_reason']})" if d["stop_reason"] else ""
            self._line(f"iteration {d['iteration']}: best {d['best_id']} {d['best_accuracy']:.4f}, "
                       f"smallest {d['smallest_id']} {d['smallest_params']:,} params{stop}")
        elif kind == "EnasEpochFinished":
            self._line(f"epoch {d['epoch']}: shared loss {d['shared_loss']:.4f} acc {d['shared_accuracy']:.4f}, "
                       f"reward {d['mean_reward']:.4f}, {d['seconds']:.1f} s; {d['sampled_arc']}")
        elif kind == "SearchFinished":
            self._line(f"search finished ({d['stop_reason']}): {d['best_genotype']}")

    def _line(self, text: str) -> None:
        self.stream.write(("\r" if self.tty else "") + text + "\n")
        self.stream.flush()


def _config(args: argparse.Namespace):
    from medvision_app.search.config import SearchConfig, candidates_on_ray
    from medvision_app.utils.config_io import apply_overrides, from_dict, load_config, to_dict

    cfg = load_config(SearchConfig, args.config) if args.config else SearchConfig(method=args.method or "bbnas")
    data = to_dict(cfg)
    if args.method:
        data["method"] = args.method
    if args.data:
        data["data"] = str(args.data)
    if args.budget:
        data["budget_seconds"] = parse_duration(args.budget)
    if args.max_iterations is not None:
        data["max_iterations"] = args.max_iterations
    if args.workers is not None:
        data["workers"] = args.workers
    if args.executor:
        data["executor"] = args.executor
    if args.address:
        data.setdefault("ray", {})["address"] = args.address
        data["executor"] = args.executor or "ray"  # an address names a Ray cluster
    data = apply_overrides(data, args.overrides)
    cfg = from_dict(SearchConfig, data, where=str(args.config or "search"))
    _refuse_workers_for_enas(cfg.method, args)
    if cfg.executor == "ray" and not candidates_on_ray(cfg.method, cfg.executor):
        # Not refused: a file saved from a Ray BbNAS and switched to ENAS is still a valid ENAS search.
        print(f"warning: {args.config or 'search'}: executor = \"ray\" applies to bbnas and se-bbnas; "
              "ENAS trains its one shared network in this process", file=sys.stderr)
    if not cfg.data:
        raise CliError("search: --data PATH is required (or data = ... in the config)")
    if not Path(cfg.data).exists() and args.config and not Path(cfg.data).is_absolute():
        # example configs name data relative to the project root above them
        for parent in Path(args.config).resolve().parents:
            if (parent / cfg.data).exists():
                cfg.data = str(parent / cfg.data)
                break
    if not Path(cfg.data).exists():
        raise CliError(f"{cfg.data}: no such file or folder")
    return cfg


def _refuse_workers_for_enas(method: Optional[str], args: argparse.Namespace) -> None:
    """ENAS trains one shared network in the job's own process: where its children would run means nothing."""
    given = [flag for flag, value in (("--executor", args.executor), ("--address", args.address),
                                      ("--workers", args.workers)) if value is not None]
    if method == "enas" and given:
        raise CliError(f"search: {', '.join(given)} apply to bbnas and se-bbnas; ENAS trains its one shared network "
                       "in this process (--set device=cpu|cuda picks where)")


def _search(args: argparse.Namespace) -> int:
    from medvision_app.data.errors import DataError
    from medvision_app.jobs import JobSpec, default_run_dir
    from medvision_app.jobs.execute import run_for_cli
    from medvision_app.search.state import SearchStateError, load_state
    from medvision_app.utils.config_io import to_dict

    display = _Display()
    out = args.resume or args.out
    try:
        if args.resume is not None:
            if args.method or args.data or args.config or args.overrides or args.out:
                raise CliError("--resume continues a search as configured: only --budget, --max-iterations, --workers, "
                               "--executor, --address")
            out = args.resume
            overrides = {"budget_seconds": parse_duration(args.budget) if args.budget else None,
                         "max_iterations": args.max_iterations, "workers": args.workers,
                         "executor": args.executor or ("ray" if args.address else None), "ray_address": args.address}
            config = load_state(out).get("config", {})
            _refuse_workers_for_enas(config.get("method"), args)
            spec = JobSpec("search", config, str(out), resume=True,
                           overrides={k: v for k, v in overrides.items() if v is not None})
        else:
            if not (args.method or args.config):
                raise CliError("search: --method or --config is required")
            cfg = to_dict(_config(args))
            out = args.out or default_run_dir("search", cfg)
            spec = JobSpec("search", cfg, str(out))
        status, summary = run_for_cli(spec, emit=display)
    except (DataError, SearchStateError) as exc:
        raise CliError(str(exc)) from None
    except KeyboardInterrupt:
        print(f"interrupted; resume with: medvision search --resume {out}", file=sys.stderr)
        return 130
    if status == "cancelled":
        print(f"cancelled; resume with: medvision search --resume {out}", file=sys.stderr)
        return 130
    print(json.dumps(summary))
    return 0
