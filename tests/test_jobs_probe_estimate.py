"""The wizard's network probe answers a config the user must fix with the reason, not a traceback."""

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
