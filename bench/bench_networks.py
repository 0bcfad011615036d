"""Size, cost and CPU latency of every registered network at 224 x 224.

MACs are multiply-adds of conv and linear layers (see
``medvision_app.networks.complexity``); ``gflops`` is 2 x MACs, the
convention of the P-NET paper's table (1.05 M parameters, 1.69 GFLOPs).
"""

from __future__ import annotations

import time

import torch

from medvision_app.networks import ModelConfig, available_models, build_model, count_flops, count_parameters

LATENCY_MODELS = ("pnet", "efficientnet_lite0", "mobilenet_v3_large", "squeezenet1_1", "alexnet")
SIZE = 224


def _latency_ms(model: torch.nn.Module, batch: int, repeats: int = 5) -> float:
    # The fastest of several runs: on a machine shared with other jobs the
    # median measures the neighbours as much as the model.
    x = torch.rand(batch, 3, SIZE, SIZE)
    model.eval()
    with torch.no_grad():
        model(x)  # warm-up: first call builds the oneDNN primitives
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return round(1000 * min(times), 2)


def run() -> dict:
    torch.manual_seed(0)
    sizes = {}
    for name in available_models():
        for attention in (False, True):
            model = build_model(ModelConfig(name=name, soft_attention=attention), num_classes=2)
            macs = count_flops(model, SIZE)
            key = f"{name}+sa" if attention else name
            sizes[key] = {"params": count_parameters(model), "macs": macs, "gflops": round(2 * macs / 1e9, 4)}
    latency = {}
    for name in LATENCY_MODELS:
        for attention in (False, True):
            model = build_model(ModelConfig(name=name, soft_attention=attention), num_classes=2)
            key = f"{name}+sa" if attention else name
            latency[key] = {"batch1_ms": _latency_ms(model, 1), "batch8_ms": _latency_ms(model, 8, repeats=3)}
    pnet = sizes["pnet"]
    return {
        "input_size": SIZE,
        "num_classes": 2,
        "torch_threads": torch.get_num_threads(),
        "pnet_vs_paper": {
            "params": pnet["params"],
            "paper_params": 1.05e6,
            "gflops": pnet["gflops"],
            "paper_gflops": 1.691333,
        },
        "sizes": sizes,
        "cpu_latency": latency,
    }
