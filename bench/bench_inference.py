"""Inference latency: our predict path against PyTorch eager, its overhead over bare
onnxruntime, and the stages of a full-field mammogram prediction.

Models have random weights (latency does not depend on the values); the
inputs are real images from ../shared/data.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
REPEATS = 20
WARMUP = 3


def _interleaved_ms(fns: dict, repeats: int = REPEATS) -> dict[str, float]:
    """Median milliseconds of each function, timed in rotation so that load from
    other processes on a shared machine falls on all of them alike."""
    for fn in fns.values():
        for _ in range(WARMUP):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: round(statistics.median(t) * 1000, 3) for name, t in times.items()}


def _busi_display(n: int) -> list[np.ndarray]:
    from medvision_app.imaging import open_image

    files = sorted((DATA / "busi-256" / "malignant").glob("*.png"))[:n]
    return [open_image(f).display_float(0) for f in files]


def _export(name: str, model_config, pipeline: dict, folder: Path):
    import torch

    from medvision_app.inference.card import ModelCard
    from medvision_app.inference.export import export_module
    from medvision_app.inference.model import load_model
    from medvision_app.inference.predict import preprocess
    from medvision_app.networks import build_model

    torch.manual_seed(0)
    net = build_model(model_config, 2).eval()
    card = ModelCard(name=name, classes=["malignant", "benign"], input_size=(224, 224),
                     input_channels=model_config.in_channels, preprocessing=pipeline,
                     input_mean=list(net.input_mean), input_std=list(net.input_std),
                     attention=bool(net.has_attention), architecture=name)
    check = np.stack([preprocess(img, card)[0] for img in _busi_display(4)])
    path, diffs = export_module(net, card, check, folder / f"{name}.onnx")
    return net, load_model(path), diffs


def _eager_predict(net, card, display):
    """The same work as predict(), done with PyTorch eager for the network."""
    import torch

    from medvision_app.explanation.attention import attention_heatmap, normalise
    from medvision_app.inference.predict import preprocess

    tensor, geometry = preprocess(display, card)
    with torch.no_grad():
        logits, maps = net.forward_with_attention(torch.from_numpy(tensor[None]))
        probs = torch.softmax(logits, dim=1)[0].numpy()
    if maps is not None:
        normalise(geometry.to_original(attention_heatmap(maps[0].numpy()), display.shape[:2]))
    return probs


def run() -> dict:
    import torch

    from medvision_app.inference.predict import predict, predict_batch, preprocess
    from medvision_app.inference.runtime import cpu_threads
    from medvision_app.networks.config import ModelConfig

    torch.set_num_threads(cpu_threads())
    pipeline = {"steps": [{"op": "resize", "params": {"height": 224, "width": 224, "mode": "pad"}}]}
    display = _busi_display(1)[0]
    result: dict = {"threads": cpu_threads(), "repeats": REPEATS, "batch": 1, "input": "224x224, BUSI PNG 256x256"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        configs = {
            "efficientnet_lite0+soft_attention": ModelConfig(name="efficientnet_lite0", soft_attention=True,
                                                             input_size=224, in_channels=3),
            "pnet": ModelConfig(name="pnet", input_size=224, in_channels=3),
        }
        for label, config in configs.items():
            net, model, diffs = _export(label.replace("+", "_"), config, pipeline, folder)
            tensor, _ = preprocess(display, model.card)
            x = torch.from_numpy(tensor[None])
            feeds = {"image": tensor[None]}
            raw = model.session.raw
            with torch.no_grad():
                ms = _interleaved_ms({
                    "ours": lambda: predict(display, model),
                    "eager": lambda: _eager_predict(net, model.card, display),
                    "bare": lambda: raw.run(None, feeds),
                    "path": lambda: predict_batch(tensor[None], model, attention=True),
                    "eager_forward": lambda: net.forward_with_attention(x),
                })
            ours, eager, bare, path, eager_forward = (ms[k] for k in ("ours", "eager", "bare", "path", "eager_forward"))
            result[label] = {
                "provider": model.provider,
                "export_max_abs_diff": diffs,
                "predict_ms": ours,
                "pytorch_eager_same_work_ms": eager,
                "speedup_predict_vs_eager": round(eager / ours, 2),
                "onnxruntime_forward_ms": bare,
                "pytorch_eager_forward_ms": eager_forward,
                "speedup_forward": round(eager_forward / bare, 2),
                "predict_batch_on_tensor_ms": path,
                "overhead_vs_bare_session_run": round(path / bare, 3),
            }
        # end to end on a full-field mammogram, with the mammography preprocessing
        mammo = sorted((DATA / "cbis-ddsm-P_00173").glob("*.dcm"))[0]
        mammo_pipeline = {"steps": [{"op": "crop_foreground", "params": {"margin": 0.02}},
                                    {"op": "resize", "params": {"height": 224, "width": 224, "mode": "pad"}}]}
        _, model, _ = _export("efficientnet_lite0_sa_mammo", configs["efficientnet_lite0+soft_attention"],
                              mammo_pipeline, folder)
        stages = []
        for _ in range(3):
            stages.append(predict(mammo, model).timings)
        result["cbis_ddsm_end_to_end"] = {
            "file": mammo.name,
            "stages_ms_median_of_3": {k: round(statistics.median(s[k] for s in stages) * 1000, 1) for k in stages[0]},
        }
        result["cbis_ddsm_end_to_end"]["total_ms"] = round(sum(result["cbis_ddsm_end_to_end"]["stages_ms_median_of_3"].values()), 1)
    return result
