"""The shipped breast ultrasound model on BUSI at 256 px: the external check of issue 16.

    python -m bench.bench_busi_external [MODEL]   -> bench/results/busi-external.json

BreastMNIST *is* BUSI (its 780 images, resized to 28 x 28 and split
546 / 78 / 156), so BUSI is not an independent population: most of its
images trained the model. What BUSI adds is the path a user takes: the
256-pixel image (``../shared/data/busi-256``) goes through the model card's
own preprocessing, not MedMNIST's resize. Each BUSI image is matched to the
BreastMNIST image it became (nearest neighbour at 28 x 28, with the margin
to the second nearest recorded), and the figures are given three ways: the
images whose BreastMNIST copy is in the test split (never seen in
training: the honest external figure), the rest, and all. ``normal`` and
``benign`` are one class here, as in BreastMNIST.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data"
BUSI = DATA / "busi-256"
BREAST = DATA / "breastmnist" / "breastmnist.npz"
RESULTS = HERE / "results" / "busi-external.json"
RESAMPLES = 2000


def _busi() -> tuple[list[Path], np.ndarray, list[str]]:
    paths, labels, folders = [], [], []
    for folder in ("malignant", "benign", "normal"):
        for path in sorted((BUSI / folder).glob("*.png")):
            paths.append(path)
            labels.append(0 if folder == "malignant" else 1)  # the card's classes: malignant, normal/benign
            folders.append(folder)
    return paths, np.asarray(labels), folders


def _match_splits(images: list[np.ndarray]) -> tuple[list[str], np.ndarray]:
    """The BreastMNIST split each image's 28-pixel copy is in, and the match margin (second / first distance)."""
    from PIL import Image

    with np.load(BREAST) as npz:
        pool = np.concatenate([npz[f"{s}_images"] for s in ("train", "val", "test")]).astype(np.float32)
        names = np.concatenate([[s] * len(npz[f"{s}_images"]) for s in ("train", "val", "test")])
    pool = pool.reshape(len(pool), -1)
    pool = (pool - pool.mean(1, keepdims=True)) / (pool.std(1, keepdims=True) + 1e-6)
    splits, margins = [], []
    for img in images:
        small = np.asarray(Image.fromarray(img).resize((28, 28), Image.Resampling.BOX), np.float32).ravel()
        small = (small - small.mean()) / (small.std() + 1e-6)
        dist = ((pool - small) ** 2).mean(1)
        first, second = np.partition(dist, 1)[:2]
        splits.append(str(names[int(np.argmin(dist))]))
        margins.append(float(second / max(first, 1e-9)))
    return splits, np.asarray(margins)


def _figures(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict:
    """AUC of malignant and the figures at the card's threshold, with the evaluation core's bootstrap intervals."""
    from medvision_app.evaluation.bootstrap import bootstrap_ci
    from medvision_app.evaluation.metrics import auc_score
    from medvision_app.evaluation.threshold_choice import operating_report

    op = operating_report(labels, probs, threshold, positive=0, n_resamples=RESAMPLES)
    auc_ci = bootstrap_ci(labels, probs, n_resamples=RESAMPLES)["auc"]
    out = {"n": int(len(labels)), "malignant": int((labels == 0).sum()),
           "auc": auc_score(labels, probs), "auc_ci": [auc_ci["low"], auc_ci["high"]]}
    for key in ("accuracy", "sensitivity", "specificity"):
        out[key] = op[key]
        out[f"{key}_ci"] = [op["ci"][key]["low"], op["ci"][key]["high"]]
    return out


def run(model_path: Path) -> dict:
    from PIL import Image

    from medvision_app.inference import load_model
    from medvision_app.inference.predict import predict_batch, preprocess

    started = time.perf_counter()
    model = load_model(model_path)
    card = model.card
    paths, labels, folders = _busi()
    images = [np.asarray(Image.open(p).convert("L")) for p in paths]
    splits, margins = _match_splits(images)
    probs = []
    for start in range(0, len(images), 64):
        batch = np.stack([preprocess(img.astype(np.float32) / 255.0, card, model.pipeline)[0]
                          for img in images[start:start + 64]])
        probs.append(predict_batch(batch, model)["probabilities"])
    probs = np.concatenate(probs).astype(np.float64)
    splits_arr = np.asarray(splits)
    result = {
        "model": str(model_path.relative_to(ROOT) if model_path.is_relative_to(ROOT) else model_path),
        "model_sha256": card.graph_sha256,
        "threshold": card.threshold,
        "classes": list(card.classes),
        "busi_images": {f: folders.count(f) for f in ("malignant", "benign", "normal")},
        "matched_to_breastmnist": {s: int((splits_arr == s).sum()) for s in ("train", "val", "test")},
        "match_margin_median": float(np.median(margins)),
        "match_margin_min": float(margins.min()),
        "unseen_test_split": _figures(labels[splits_arr == "test"], probs[splits_arr == "test"], card.threshold),
        "seen_train_or_val": _figures(labels[splits_arr != "test"], probs[splits_arr != "test"], card.threshold),
        "all": _figures(labels, probs, card.threshold),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return result


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    model = Path(argv[0]) if argv else ROOT / "models" / "breastmnist.onnx"
    if not BUSI.is_dir() or not BREAST.is_file():
        print(f"skipped: {BUSI} or {BREAST} is absent")
        return 0
    result = run(model)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"benchmark": "busi-external", "result": result}, indent=1))
    tmp.replace(RESULTS)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
