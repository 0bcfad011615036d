"""The wizard's probes: thumbnails as the data are, and a config the user must fix answered with the reason."""

from __future__ import annotations

import pytest

from medvision_app.jobs.probe import probe_in_child
from medvision_app.training.config import TrainConfig
from medvision_app.utils.config_io import to_dict


@pytest.mark.slow
def test_missing_pretrained_weights_come_back_as_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-cache"))  # nothing cached, and no network to fetch from
    config = to_dict(TrainConfig())
    config["model"].update(name="mobilenet_v3_large", pretrained="imagenet", input_size=32)
    config["train"].update(batch_size=2, device="cpu", cpu_threads=1)
    answer = probe_in_child("estimate", {"config": config, "classes": 2, "train_samples": 8})
    assert set(answer) == {"error"}
    assert "mobilenet_v3_large" in answer["error"] and "not found" in answer["error"]
    assert "never downloads" in answer["error"] and "Traceback" not in answer["error"]


def test_thumbnails_keep_colour_and_grey_as_the_data_are(tmp_path):
    from PIL import Image

    from medvision_app.jobs.probe import decode_thumb, inspect_data
    from tests.jobs_support import tiny_npz

    for name, colour in (("blue", (40, 60, 200)), ("red", (200, 40, 40))):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in range(10):  # enough for a validation and a test image per class
            Image.new("RGB", (200, 150), colour).save(tmp_path / "photos" / name / f"{i}.png")
    answer = inspect_data({"path": str(tmp_path / "photos")})
    assert answer["classes"] == ["blue", "red"] and not answer["problems"]
    blue, red = (decode_thumb(t[0] if isinstance(t, list) else t) for t in answer["thumbnails"])
    assert blue.shape[2] == 3 and max(blue.shape[:2]) <= 64 and blue.shape[1] > blue.shape[0]  # colour kept
    assert blue[..., 2].mean() > 150 > blue[..., 0].mean() and red[..., 0].mean() > 150 > red[..., 2].mean()
    assert decode_thumb(answer["preview"]).shape == (150, 200, 3)
    grey = inspect_data({"path": str(tiny_npz(tmp_path / "tiny.npz"))})
    assert decode_thumb(grey["preview"]).ndim == 2


@pytest.mark.slow
def test_the_dry_run_names_the_threads_it_used(tmp_path):
    config = to_dict(TrainConfig())
    config["model"].update(name="pnet", pretrained="none", input_size=28, in_channels=1, dense_units=8)
    config["train"].update(batch_size=4, device="cpu", cpu_threads=1)
    answer = probe_in_child("estimate", {"config": config, "classes": 2, "train_samples": 40})
    assert answer["device_name"] == "CPU (1 thread)" and answer["params"] > 0
    assert answer["seconds_per_epoch"] == pytest.approx(answer["seconds_per_batch"] * 10)
