"""Provider choice: CUDA only with a real NVIDIA device; CPU otherwise."""

from __future__ import annotations

import pytest

from medvision_app.inference import runtime


def test_cpu_only_without_an_nvidia_device(monkeypatch):
    monkeypatch.setattr(runtime, "cuda_device_present", lambda: False)
    monkeypatch.delenv("MEDVISION_DEVICE", raising=False)
    assert runtime.choose_providers() == ["CPUExecutionProvider"]
    assert runtime.choose_providers("cuda") == ["CPUExecutionProvider"]


def test_cuda_first_when_a_device_is_present(monkeypatch):
    import onnxruntime

    monkeypatch.setattr(runtime, "cuda_device_present", lambda: True)
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.delenv("MEDVISION_DEVICE", raising=False)
    assert runtime.choose_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert runtime.choose_providers("cpu") == ["CPUExecutionProvider"]
    monkeypatch.setenv("MEDVISION_DEVICE", "cpu")
    assert runtime.choose_providers() == ["CPUExecutionProvider"]


def test_hidden_devices_count_as_absent(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not runtime.cuda_device_present()


def test_bad_device_name_is_a_value_error():
    with pytest.raises(ValueError, match="'tpu'"):
        runtime.choose_providers("tpu")


def test_threads_follow_the_affinity_mask():
    import os

    assert runtime.cpu_threads() == len(os.sched_getaffinity(0))
