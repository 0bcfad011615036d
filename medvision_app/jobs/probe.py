"""Questions the wizard asks before a job exists, answered in a child process (they need torch or read many files).

``inspect`` (a ``data`` config): the classes with their counts and a few
thumbnails each, the split's counts, and every reason the data cannot
train. ``estimate`` (a whole ``TrainConfig``): the network's parameters and
multiply-adds, the device, and the seconds per epoch measured by a two-batch
dry run. :func:`probe_in_child` runs either in ``python -m
medvision_app.jobs.probe`` and returns its JSON answer; the wizard calls it
from a worker thread, so neither the window nor its process waits on torch.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

THUMBS_PER_CLASS = 4
THUMB_SIDE = 64
PREVIEW_SIDE = 256
READ_CHECK_PER_CLASS = 12  # images opened per class to find unreadable ones without reading all of HAM10000


class ProbeError(Exception):
    """The probe process failed; the message is its last words."""


def probe_in_child(kind: str, payload: dict, *, timeout: float = 300.0) -> dict:
    """Run :func:`inspect_data` or :func:`estimate` in a fresh interpreter; return its answer."""
    try:
        done = subprocess.run([sys.executable, "-m", "medvision_app.jobs.probe", kind], input=json.dumps(payload),
                              capture_output=True, text=True, timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise ProbeError(f"{kind}: no answer within {timeout:.0f} s") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProbeError(f"{kind}: {tail}")
    return json.loads(lines[-1])


def _thumb(img: np.ndarray, side: int = THUMB_SIDE) -> dict:
    """A uint8 thumbnail, at most ``side`` a side, as base64 bytes with its shape.

    Colour stays colour (h, w, 3): a dermatoscopy set checked in grey hides
    what the network will see; anything else is grey (h, w).
    """
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 3 and img.shape[-1] >= 3:
        img = img[..., :3]
    elif img.ndim == 3:
        img = img.mean(axis=-1)
    h, w = img.shape[:2]
    step = max(1, int(np.ceil(max(h, w) / side)))
    small = img[::step, ::step]
    if small.max() > 1.0:
        small = small / 255.0
    data = np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return {"shape": list(data.shape), "data": base64.b64encode(data.tobytes()).decode("ascii")}


def decode_thumb(thumb: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(thumb["data"]), dtype=np.uint8).reshape(thumb["shape"])


def inspect_data(data: dict, config_file: Optional[str] = None) -> dict:
    """Classes, counts, thumbnails, split counts and refusal reasons of a ``data`` config section."""
    from medvision_app.data import DataConfig, DataError, read_source, split_table
    from medvision_app.data.csv_sources import group_column_of, manifest_columns
    from medvision_app.data.sources import detect_format
    from medvision_app.training.run import resolve_data_path
    from medvision_app.utils.config_io import ConfigError, from_dict

    answer: dict = {"classes": [], "counts": [], "thumbnails": [], "splits": {}, "problems": [], "path": ""}
    try:
        config = from_dict(DataConfig, data, where="data")
        path = resolve_data_path(config.path, Path(config_file) if config_file else None)
        answer["path"] = str(path)
        if (detect_format(path) if config.format == "auto" else config.format) == "csv":
            answer["columns"] = manifest_columns(path)
            answer["group_column"] = group_column_of(answer["columns"], config.group_column, path)
        table = read_source(config, path)
    except (DataError, ConfigError) as exc:
        answer["problems"].append(str(exc))
        return answer
    labels = np.asarray(table.labels)
    answer["classes"] = list(table.class_names)
    answer["counts"] = [int((labels == k).sum()) for k in range(len(table.class_names))]
    answer["problems"].extend(_problems(table, answer["counts"]))
    answer["thumbnails"] = [_class_thumbs(table, np.flatnonzero(labels == k), answer["problems"])
                            for k in range(len(table.class_names))]
    answer["preview"] = _preview(table)
    try:
        parts = split_table(table, config)
        answer["splits"] = {s: [int((t.labels == k).sum()) for k in range(len(table.class_names))]
                            for s, t in parts.items()}
        answer["grouped"] = table.groups is not None
        answer["predefined"] = table.splits is not None and config.split.use_predefined
        if parts.get("val") is not None and len(parts["val"]) == 0:
            answer["problems"].append("the validation split is empty: give it a share of the data")
    except (DataError, ValueError) as exc:
        answer["problems"].append(str(exc))
    return answer


def _problems(table, counts: list[int]) -> list[str]:
    problems = []
    if len(counts) < 2 or sum(1 for c in counts if c > 0) < 2:
        problems.append(f"{table.source}: only one class ({', '.join(table.class_names) or 'none'}); "
                        "a classifier needs at least two")
    for name, count in zip(table.class_names, counts, strict=True):
        if count < 2:
            problems.append(f"class {name!r} has {count} image(s); each class needs at least 2")
    if table.paths is not None:
        missing = [p for p in table.paths if not Path(p).is_file()]
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            problems.append(f"{len(missing)} file(s) missing: {', '.join(map(str, missing[:3]))}{more}")
    return problems


def _class_thumbs(table, index: np.ndarray, problems: list[str]) -> list[dict]:
    if table.arrays is not None:
        return [_thumb(table.arrays[i]) for i in index[:THUMBS_PER_CLASS]]
    from medvision_app.imaging import ImageOpenError, open_image

    thumbs = []
    for i in index[:READ_CHECK_PER_CLASS]:
        path = table.paths[i]
        if not Path(path).is_file():
            continue
        try:
            img = open_image(path).display_float(0)
        except ImageOpenError as exc:
            problems.append(f"{path}: unreadable image: {exc.reason}")
            continue
        if len(thumbs) < THUMBS_PER_CLASS:
            thumbs.append(_thumb(img))
    return thumbs


def _preview(table) -> Optional[dict]:
    """One image of the data at up to PREVIEW_SIDE, for the preprocessing and augmentation previews."""
    if table.arrays is not None:
        return _thumb(table.arrays[0], PREVIEW_SIDE) if len(table.arrays) else None
    from medvision_app.imaging import ImageOpenError, open_image

    for path in table.paths[:READ_CHECK_PER_CLASS]:
        try:
            return _thumb(open_image(path).display_float(0), PREVIEW_SIDE)
        except (ImageOpenError, OSError):
            continue
    return None


def estimate(payload: dict) -> dict:
    """Parameters, multiply-adds, device and a time per epoch from a two-batch dry run of a ``TrainConfig``."""
    import torch

    from medvision_app.networks import build_model
    from medvision_app.networks.complexity import count_flops, count_parameters
    from medvision_app.training.config import TrainConfig
    from medvision_app.training.engine import resolve_device
    from medvision_app.training.losses import build_loss
    from medvision_app.training.optim import build_optimizer
    from medvision_app.utils.config_io import from_dict

    config = from_dict(TrainConfig, payload["config"], where="config")
    classes = int(payload.get("classes") or 2)
    samples = int(payload.get("train_samples") or 0)
    meta = 8 if config.model.metadata else 0
    model = build_model(config.model, classes, metadata_features=meta)
    size, channels = config.model.input_size, config.model.in_channels
    answer = {"params": count_parameters(model), "macs": count_flops(model, size, channels, meta)}
    if config.train.cpu_threads:  # before naming the device: the name says what the dry run used
        torch.set_num_threads(config.train.cpu_threads)
    device = resolve_device(config.train.device)
    answer["device"] = str(device)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        answer["device_name"], answer["device_memory_gb"] = props.name, props.total_memory / 2**30
    else:
        threads = torch.get_num_threads()
        answer["device_name"] = f"CPU ({threads} thread{'s' if threads != 1 else ''})"
    model.to(device).train()
    batch = config.train.batch_size
    x = torch.rand(batch, channels, size, size, device=device)
    y = torch.randint(0, classes, (batch,), device=device)
    m = torch.zeros(batch, meta, device=device) if meta else None
    optimizer = build_optimizer(model, config.train)
    loss_fn = build_loss(config.train.loss, np.arange(batch) % classes, classes).to(device)
    times = []
    for _ in range(2):  # the first batch pays for allocation and kernel selection; the second is the steady rate
        start = time.perf_counter()
        optimizer.zero_grad()
        out = model(x) if m is None else model(x, m)
        loss_fn(out, y).backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    answer["seconds_per_batch"] = times[-1]
    answer["first_batch_seconds"] = times[0]
    if samples:
        answer["seconds_per_epoch"] = times[-1] * int(np.ceil(samples / batch))
    return answer


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in ("inspect", "estimate"):
        print("usage: python -m medvision_app.jobs.probe inspect|estimate < payload.json", file=sys.stderr)
        return 2
    payload = json.loads(sys.stdin.read())
    if argv[0] == "inspect":
        answer = inspect_data(payload.get("data", {}), payload.get("config_file"))
    else:
        from medvision_app.errors import UserError

        try:
            answer = estimate(payload)
        except UserError as exc:  # missing weights, a config that cannot build: the user's to fix, said plainly
            answer = {"error": str(exc)}
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
