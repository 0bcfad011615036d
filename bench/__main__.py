"""Run the benchmarks and write their results under bench/results/."""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


# Hour-long runs that `make bench` leaves out; name them to run them.
OPT_IN = {"accuracy"}


def available() -> list[str]:
    return sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))


def machine() -> dict:
    import torch

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        # other work on the machine skews every figure: the load says how much
        "load_average_1_5_15_min": [round(v, 2) for v in os.getloadavg()],
    }


def main(argv=None) -> int:
    sys.path.insert(0, str(HERE.parent))
    from medvision_app.utils.atomic import atomic_write_text

    parser = argparse.ArgumentParser(prog="python -m bench")
    default = [n for n in available() if n not in OPT_IN]
    parser.add_argument("names", nargs="*",
                        help=f"benchmarks to run (default: {', '.join(default)}; on request: {', '.join(sorted(OPT_IN))})")
    parser.add_argument("--tag", default="", help="suffix of the result file (NAME-TAG.json), so parallel runs of one benchmark keep apart")
    args = parser.parse_args(argv)
    names = args.names or default
    unknown = set(names) - set(available())
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        started = _dt.datetime.now(_dt.timezone.utc)
        result = module.run()
        record = {"benchmark": name, "started": started.isoformat(timespec="seconds"), "machine": machine(), "result": result}
        out = RESULTS / (f"{name}-{args.tag}.json" if args.tag else f"{name}.json")
        atomic_write_text(out, json.dumps(record, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        print(f"-> {out.relative_to(HERE.parent)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
