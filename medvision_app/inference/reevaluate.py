"""Re-evaluate a model file on a data split and compare with its card: the card's figures must be the file's.

The images go through exactly what ``predict`` does (the card's
preprocessing, the graph, the card's temperature and threshold), read from
the data source the card's run was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from medvision_app.inference.model import LoadedModel, load_model
from medvision_app.inference.predict import decide, predict_batch, preprocess

# Bootstrap intervals and rounding aside, a re-evaluation repeats the card to
# float precision; this allows for ONNX Runtime's kernels against PyTorch's.
TOLERANCE = 0.002


def split_probabilities(model: LoadedModel, data_config, split: str = "test", *, batch_size: int = 64,
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``(probabilities (N, C), labels (N,))`` of ``split`` of the source ``data_config`` names."""
    from medvision_app.data.prepare import split_table
    from medvision_app.data.sources import read_source

    table = read_source(data_config, Path(data_config.path))
    part = split_table(table, data_config)[split]
    card = model.card
    if list(table.class_names) != list(card.classes):
        raise ValueError(f"the data's classes {table.class_names} are not the model's {card.classes}")
    encoding = None
    if card.metadata_features:
        from medvision_app.data.metadata import MetadataEncoding
        from medvision_app.utils.config_io import from_dict

        encoding = from_dict(MetadataEncoding, card.metadata_encoding, where="model card metadata_encoding")
    probs = []
    for start in range(0, len(part), batch_size):
        idx = np.arange(start, min(start + batch_size, len(part)))
        sample = part.subset(idx)
        tensors = []
        for i in range(len(sample)):
            tensors.append(preprocess(sample.display(i), card, model.pipeline)[0])
        meta = None if encoding is None else encoding.encode_many(sample.age, sample.sex, sample.site, len(sample))
        probs.append(predict_batch(np.stack(tensors), model, metadata=meta)["probabilities"])
    return np.concatenate(probs).astype(np.float64), np.asarray(part.labels, np.int64)


def reevaluate(model_path: str | Path, data_config, split: str = "test") -> dict:
    """The card's headline figures recomputed from the file on ``split``; ``predicted`` follows the card's threshold."""
    from medvision_app.evaluation.calibration import reliability
    from medvision_app.evaluation.metrics import classification_report

    model = load_model(model_path)
    probs, labels = split_probabilities(model, data_config, split)
    report = classification_report(labels, probs, model.card.classes)
    report["macro_f1"] = report["macro"]["f1"]
    report["ece"] = reliability(labels, probs).ece
    if getattr(model.card, "threshold", None) is not None:
        called = np.array([decide(p, model.card) for p in probs])
        report["accuracy_at_threshold"] = float((called == labels).mean())
        rates = []
        for k in (0, 1):
            actual = labels == k
            rates.append(float((called[actual] == k).mean()) if actual.any() else float("nan"))
        report["balanced_accuracy_at_threshold"] = float(np.nanmean(rates))
    return report


def mismatches(card, report: dict, tolerance: float = TOLERANCE) -> dict[str, tuple[float, Optional[float]]]:
    """Card metrics whose value differs from ``report``'s by more than ``tolerance``: name -> (card, file)."""
    out = {}
    for name, metric in card.metrics.items():
        value = report.get(name)
        if isinstance(value, (int, float)) and abs(float(value) - metric.value) > tolerance:
            out[name] = (metric.value, float(value))
    return out
