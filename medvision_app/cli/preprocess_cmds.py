"""``medvision preprocess`` and ``medvision augment-preview``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from medvision_app.cli.main import CliError


def register(sub) -> None:
    pre = sub.add_parser("preprocess", help="run a preprocessing pipeline on an image and write an 8-bit PNG")
    pre.add_argument("input", type=Path, help="image file (DICOM, PNG, JPEG, TIFF, BMP, PGM)")
    pre.add_argument("out", type=Path, help="output .png")
    pre.add_argument("--config", type=Path, required=True, help="pipeline config (.toml or .json)")
    pre.set_defaults(func=cmd_preprocess)

    aug = sub.add_parser("augment-preview", help="write augmented variants of an image and a grid of them")
    aug.add_argument("input", type=Path, help="image file")
    aug.add_argument("outdir", type=Path, help="folder for aug_00.png ... and grid.png")
    aug.add_argument("-n", type=int, default=9, help="number of variants (default 9)")
    aug.add_argument("--seed", type=int, default=0, help="random seed (default 0); the same seed gives the same variants")
    aug.add_argument("--config", type=Path, help="augmentation config (.toml or .json); default: mild typical settings")
    aug.set_defaults(func=cmd_augment_preview)


def _open_display(path: Path) -> np.ndarray:
    from medvision_app.imaging import open_image

    # The pipeline starts from what the viewer shows: VOI applied, MONOCHROME1 inverted.
    return open_image(path).display_float(0)


def _to_uint8(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """The pipeline output as 8-bit; True when it was outside [0, 1] and had to be rescaled."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    lo, hi = float(arr.min()), float(arr.max())
    rescaled = lo < 0.0 or hi > 1.0
    if rescaled:
        # A normalised (ImageNet, [-1, 1]) or 0-255 output: show its full range.
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8), rescaled


def _check_png(path: Path) -> None:
    if path.suffix.lower() != ".png":
        raise CliError(f"{path}: the output must be a .png file")


def cmd_preprocess(args) -> int:
    from medvision_app.imaging.export import save_png
    from medvision_app.preprocessing import PipelineConfig, apply_pipeline
    from medvision_app.utils.config_io import load_config

    _check_png(args.out)
    config = load_config(PipelineConfig, args.config)
    image = _open_display(args.input)
    out, geometry = apply_pipeline(image, config)
    if out.ndim == 3 and out.shape[2] not in (1, 3):
        raise CliError(f"{args.config}: the pipeline's output has {out.shape[2]} channels; a PNG needs 1 or 3")
    pixels, rescaled = _to_uint8(out)
    save_png(pixels, args.out)
    note = " (values outside [0, 1] were rescaled to the full 8-bit range)" if rescaled else ""
    top, left, bottom, right = geometry.crop_box
    print(
        f"wrote {args.out}: {pixels.shape[1]}x{pixels.shape[0]} from {image.shape[1]}x{image.shape[0]}, "
        f"{len(config.steps)} step(s), input region rows {top:g}-{bottom:g}, columns {left:g}-{right:g}{note}"
    )
    return 0


def cmd_augment_preview(args) -> int:
    from medvision_app.augmentation import AugmentationConfig, default_preview_config, montage, preview
    from medvision_app.imaging.export import save_png
    from medvision_app.utils.config_io import load_config

    if args.n < 1 or args.n > 100:
        raise CliError(f"-n {args.n}: choose between 1 and 100 variants")
    config = load_config(AugmentationConfig, args.config) if args.config else default_preview_config()
    if args.outdir.exists() and not args.outdir.is_dir():
        raise CliError(f"{args.outdir}: exists and is not a folder")
    image = _open_display(args.input)
    variants = preview(image, config, args.n, args.seed)
    args.outdir.mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(args.n - 1)))
    for i, variant in enumerate(variants):
        save_png(_to_uint8(variant)[0], args.outdir / f"aug_{i:0{width}d}.png")
    save_png(montage(variants), args.outdir / "grid.png")
    print(f"seed {args.seed}: wrote {len(variants)} variant(s) and grid.png to {args.outdir}")
    return 0

