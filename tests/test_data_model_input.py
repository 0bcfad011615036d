"""The model input is resized without torch, with the arithmetic torch used in training."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from medvision_app.data.images import to_model_input


def _torch_reference(image: np.ndarray, size: int) -> np.ndarray:
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    arr = image[None] if image.ndim == 2 else np.moveaxis(image, -1, 0)
    antialias = arr.shape[1] > size or arr.shape[2] > size
    out = F.interpolate(torch.from_numpy(np.ascontiguousarray(arr))[None], size=(size, size), mode="bilinear",
                        align_corners=False, antialias=antialias)[0].numpy()
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("shape, size", [((300, 200), 64), ((20, 20), 64), ((50, 300), 64), ((60, 40, 3), 32),
                                         ((1000, 700), 224)])
def test_resize_matches_the_torch_interpolation_models_were_trained_with(shape, size):
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    ours = to_model_input(image, size, 1 if len(shape) == 2 else 3)
    ref = _torch_reference(image, size)
    diff = np.abs(ours.astype(int) - ref.astype(int))
    # only values that sit on a rounding tie may land one grey level apart
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_preparing_a_model_input_does_not_import_torch():
    code = ("import sys, numpy as np\n"
            "from medvision_app.data.images import to_model_input\n"
            "to_model_input(np.zeros((90, 70), np.float32), 28, 3)\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"



def test_predict_runs_without_importing_torch(shared_data):
    image = shared_data / "busi-256" / "benign" / "benign (1).png"
    code = ("import sys\n"
            "from medvision_app.cli.main import main\n"
            "try:\n"
            f"    main(['predict', 'breastmnist', {str(image)!r}])\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
            "print('torch' in sys.modules, 'torchvision' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"
