"""Benchmarks: `make bench` (or `python -m bench [NAME...]`).

Each ``bench/bench_<name>.py`` has ``run() -> dict``; its result is written to
``bench/results/<name>.json`` with the machine it ran on.
"""
