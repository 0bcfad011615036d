"""Put a recipe's trained run under ``models/`` as a shipped model: export, unsign, pin.

    python -m bench.ship_model recipe_breastmnist runs/recipes/recipe_breastmnist

Exports the run's best checkpoint to ``models/NAME.onnx`` with the card's
intended use, licence, citation and limitations from :data:`SHIPPED` (so a
re-export gives the same card), removes this installation's signature (a
shipped model is recognised by the sha256 pin in the package, never by a
developer's key), writes ``models/NAME.train.toml`` (the recipe that trained
it) and updates the pin in ``medvision_app/inference/shipped_models.py``.
The model's figures in ``models/README.md`` are written by hand from
``bench/results/accuracy.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
PINS = ROOT / "medvision_app" / "inference" / "shipped_models.py"

_MEDMNIST = ("MedMNIST v2: Yang J, Shi R, Wei D, et al. MedMNIST v2 - A large-scale lightweight benchmark for 2D "
             "and 3D biomedical image classification. Scientific Data 10, 41 (2023).")
_HAM = ("Tschandl P, Rosendahl C, Kittler H. The HAM10000 dataset, a large collection of multi-source dermatoscopic "
        "images of common pigmented skin lesions. Scientific Data 5, 180161 (2018).")
_RESEARCH = "Decision support for research; not a diagnosis."

SHIPPED = {
    "recipe_breastmnist": dict(
        name="breastmnist", modalities=["US"], body_part="breast",
        input_description="breast ultrasound, B-mode, grayscale, the whole image (BUSI-like framing)",
        licence="CC BY 4.0",
        citation=_MEDMNIST + " BreastMNIST is derived from the BUSI dataset: Al-Dhabyani W, Gomaa M, Khaled H, "
                             "Fahmy A. Dataset of breast ultrasound images. Data in Brief 28, 104863 (2020).",
        limitations=[
            "Trained on 546 BreastMNIST images at 28 x 28 pixels: fine detail of a full-resolution ultrasound "
            "image is not used.",
            "Trained only on breast ultrasound from one source (BUSI, Baheya Hospital, Egypt); other modalities, "
            "devices and populations are out of scope.",
            "Class 'normal, benign' merges normal and benign findings, as BreastMNIST does.",
            "The operating point (threshold on P(malignant)) was chosen by Youden's J on 78 validation images; "
            "its sensitivity and specificity carry wide intervals.",
        ]),
    "recipe_pneumoniamnist": dict(
        name="pneumoniamnist", modalities=["DX", "CR"], body_part="chest",
        input_description="paediatric chest X-ray, frontal (anterior-posterior), the whole image",
        licence="CC BY 4.0",
        citation=_MEDMNIST + " PneumoniaMNIST is derived from Kermany DS, Goldbaum M, et al. Identifying medical "
                             "diagnoses and treatable diseases by image-based deep learning. Cell 172, 1122 (2018).",
        limitations=[
            "Trained on 4,708 PneumoniaMNIST images at 28 x 28 pixels, children aged one to five from one centre "
            "(Guangzhou Women and Children's Medical Center); adults and other centres are out of scope.",
            "Class 'pneumonia' merges bacterial and viral pneumonia.",
            "The operating point (threshold on P(normal)) was chosen by Youden's J on the validation split.",
        ]),
    "recipe_dermamnist": dict(
        name="dermamnist", modalities=["dermoscopy"], body_part="skin",
        input_description="dermatoscopic photograph of one pigmented skin lesion, centred",
        licence="CC BY-NC 4.0",
        citation=_MEDMNIST + " DermaMNIST is derived from HAM10000: " + _HAM,
        limitations=[
            "Trained on DermaMNIST's official split read from the 200 x 150 HAM10000 images at 96 x 96 pixels; "
            "that split lets one lesion's images fall on both sides, so the test figures are optimistic.",
            "Seven classes (akiec, bcc, bkl, df, mel, nv, vasc) of which nv is two thirds: balanced accuracy is "
            "far below accuracy (rare classes are often missed).",
            "HAM10000 comes from two centres (Vienna, Queensland) and mostly light skin.",
            "Licence of the training data: non-commercial use only.",
        ]),
    "recipe_ham10000": dict(
        name="ham10000-sa-meta", modalities=["dermoscopy"], body_part="skin",
        input_description="dermatoscopic photograph of one pigmented skin lesion, with the patient's age, sex "
                          "and the lesion's body site",
        licence="CC BY-NC 4.0",
        citation=_HAM,
        limitations=[
            "Split by lesion: no lesion's images are on both sides.",
            "HAM10000 comes from two centres (Vienna, Queensland) and mostly light skin.",
            "Licence of the training data: non-commercial use only.",
        ]),
}


def _unsigned(data: bytes) -> bytes:
    import onnx

    from medvision_app.inference.signing import SIGNATURE_KEY

    model = onnx.load_from_string(data)
    kept = [p for p in model.metadata_props if p.key != SIGNATURE_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    return model.SerializeToString()


def _pin(name: str, digest: str) -> None:
    text = PINS.read_text()
    entry = f'    "{name}": "{digest}",\n'
    pattern = re.compile(rf'^    "{re.escape(name)}": "[0-9a-f]{{64}}",\n', re.M)
    if pattern.search(text):
        text = pattern.sub(entry, text)
    else:
        text = text.replace("SHIPPED_SHA256 = {\n", "SHIPPED_SHA256 = {\n" + entry)
    PINS.write_text(text)


def ship(recipe: str, run_dir: Path) -> Path:
    from medvision_app.inference.run_export import export_run
    from medvision_app.utils.atomic import atomic_write_bytes, atomic_write_text

    meta = dict(SHIPPED[recipe])
    name = meta.pop("name")
    out = MODELS / f"{name}.onnx"
    export_run(run_dir, out, name=name, **meta)
    atomic_write_bytes(out, _unsigned(out.read_bytes()))
    source = ROOT / "examples" / "configs" / f"{recipe}.toml"
    body = [line for line in source.read_text().splitlines(keepends=True)
            if not line.startswith(("# Recipe", "#   medvision", "# Figures"))]
    head = (f"# The training run behind the shipped model models/{name}.onnx (examples/configs/{recipe}.toml).\n"
            f"# Reproduce: python -m bench.bench_accuracy {recipe}, then python -m bench.ship_model {recipe} RUN\n"
            f"#   (or medvision train --config models/{name}.train.toml --out RUN and medvision export RUN).\n")
    atomic_write_text(MODELS / f"{name}.train.toml", head + "".join(body))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    _pin(name, digest)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ship_model")
    parser.add_argument("recipe", choices=sorted(SHIPPED))
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    out = ship(args.recipe, args.run_dir)
    print(f"{out}: sha256 {hashlib.sha256(out.read_bytes()).hexdigest()} pinned in {PINS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
