"""Training engine overhead, and (on request) BreastMNIST accuracy within a CPU budget.

``run()`` (the default) times our :class:`~medvision_app.training.Trainer`
against a plain hand-written PyTorch loop: the same P-NET adapted to 28 px,
the same BreastMNIST training images, batch size, optimiser and thread
count. The rounds alternate between the two so that a busy machine slows
both alike; the figure is the median over rounds of images per second.
With one thread, images per CPU-second (``time.process_time``) measure
the work done and hardly move when other programs share the cores, so the
ratio is taken from them; wall-clock rates are reported beside it.
The plain loop gets its input already as normalised float32 (the trainer
converts uint8 and normalises per batch), so the ratio is a fair floor.

``MEDVISION_BENCH_TRAINING=accuracy python -m bench training`` instead runs
:func:`run_accuracy`: P-NET and EfficientNet-Lite0 (ImageNet weights, with
and without Soft-Attention) each trained on BreastMNIST within 20 wall-clock
minutes, reporting test accuracy and AUC (long: about an hour).
"""

from __future__ import annotations

import copy
import os
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from medvision_app.data import DataConfig, prepare_data
from medvision_app.networks import ModelConfig, build_model
from medvision_app.training import EarlyStoppingConfig, Trainer, TrainSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "breastmnist" / "breastmnist.npz"
BATCH = 64
EPOCHS_PER_ROUND = 1
ROUNDS = 4
THREADS = 1  # the development machine's 2 cores are shared; 1 thread is steadier there


def _rates(images: int, wall0: float, cpu0: float) -> tuple[float, float]:
    return images / (time.perf_counter() - wall0), images / (time.process_time() - cpu0)


def _plain_loop(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> tuple[float, float]:
    """The reference: what one writes by hand. Returns images per wall second and per CPU second."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        model.train()
        running = 0.0
        for index in torch.randperm(len(x), generator=generator).split(BATCH):
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(x[index]), y[index])
            loss.backward()
            optimizer.step()
            running += loss.item() * len(index)
    return _rates(epochs * len(x), wall0, cpu0)


def _trainer_loop(model: nn.Module, data, epochs: int, seed: int) -> tuple[float, float]:
    settings = TrainSettings(epochs=epochs, batch_size=BATCH, lr=1e-3, device="cpu", seed=seed,
                             cpu_threads=THREADS, deterministic=False,
                             early_stopping=EarlyStoppingConfig(enabled=False))
    trainer = Trainer(model, data, None, settings)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    trainer.run()
    return _rates(epochs * len(data), wall0, cpu0)


def _tiny_cnn() -> nn.Module:
    # The size of a small NAS candidate: here per-batch engine overhead shows most.
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 2),
    )


def _compare(model: nn.Module, train, rounds: int) -> dict:
    x, y, _ = train.batch(torch.arange(len(train)))
    ours, plain = [], []
    for r in range(rounds + 1):  # round 0 warms both up and is not counted
        # Alternate who goes first so a change in the machine's load hits both alike.
        if r % 2:
            b = _trainer_loop(copy.deepcopy(model), train, EPOCHS_PER_ROUND, r)
            a = _plain_loop(copy.deepcopy(model), x, y, EPOCHS_PER_ROUND, r)
        else:
            a = _plain_loop(copy.deepcopy(model), x, y, EPOCHS_PER_ROUND, r)
            b = _trainer_loop(copy.deepcopy(model), train, EPOCHS_PER_ROUND, r)
        torch.set_num_threads(THREADS)
        if r:
            plain.append(a)
            ours.append(b)
    cpu_ratios = [b[1] / a[1] for a, b in zip(plain, ours, strict=False)]
    wall_ratios = [b[0] / a[0] for a, b in zip(plain, ours, strict=False)]
    return {
        "plain_images_per_cpu_s": round(statistics.median(a[1] for a in plain), 1),
        "trainer_images_per_cpu_s": round(statistics.median(b[1] for b in ours), 1),
        "ratio": round(statistics.median(cpu_ratios), 3),
        "cpu_ratios": [round(v, 3) for v in cpu_ratios],
        "plain_images_per_s": round(statistics.median(a[0] for a in plain), 1),
        "trainer_images_per_s": round(statistics.median(b[0] for b in ours), 1),
        "wall_ratio": round(statistics.median(wall_ratios), 3),
        "wall_ratios": [round(v, 3) for v in wall_ratios],
    }


def run() -> dict:
    if os.environ.get("MEDVISION_BENCH_TRAINING") == "accuracy":
        return run_accuracy()
    if not DATA.is_file():
        return {"skipped": f"{DATA} is absent"}
    prepared = prepare_data(DataConfig(path=str(DATA)), DATA, input_size=28, in_channels=1, splits=("train",))
    train = prepared.datasets["train"]
    torch.manual_seed(0)
    pnet = build_model(ModelConfig(name="pnet", input_size=28, in_channels=1), 2)
    previous = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        train.set_normalization(pnet.input_mean, pnet.input_std)
        results = {"pnet_28": _compare(pnet, train, ROUNDS)}
        train.set_normalization(None, None)
        results["tiny_cnn_28"] = _compare(_tiny_cnn(), train, 2 * ROUNDS)
    finally:
        torch.set_num_threads(previous)
    return {
        "data": "BreastMNIST train split, 28 px, 1 channel",
        "images": len(train),
        "batch_size": BATCH,
        "threads": THREADS,
        "epochs_per_round": EPOCHS_PER_ROUND,
        "deterministic": False,
        "models": results,
        "target_ratio": 0.95,
    }


def run_accuracy() -> dict:
    """BreastMNIST accuracy within 20 minutes per candidate: see :mod:`bench.bench_accuracy`.

    The first version of this function trained into a temporary folder
    (the run folders were lost), left ``train.deterministic`` on and the
    thread count at PyTorch's default (two threads on the shared 2-core
    machine were measured 3-5x slower than one). ``bench_accuracy`` keeps
    the run folders and records load averages beside the figures.
    """
    from bench.bench_accuracy import run as run_accuracy_bench

    return run_accuracy_bench()
