"""Networks with TensorFlow "SAME" padding export at input sizes whose maps become odd."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from inference_support import tiny_card

from medvision_app.inference.export import export_module
from medvision_app.networks import ModelConfig, build_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("size", [40, 112])
def test_efficientnet_lite_exports_where_a_stride_meets_an_odd_map(tmp_path, size):
    # 112 -> 56 -> 28 -> 14 -> 7 -> 4: the stride-2 convolution after the 7x7 map pads to ceil(7 / 2) = 4.
    # The ONNX graph once computed that ceil as -(-7 // 2), exported as truncation (3), and the
    # export's own check refused the file (a 3x3 map against PyTorch's 4x4).
    torch.manual_seed(0)
    net = build_model(ModelConfig(name="efficientnet_lite0", pretrained="none", input_size=size, in_channels=3), 2)
    card = dataclasses.replace(tiny_card(size=(size, size), channels=3, attention=False),
                               input_mean=list(net.input_mean), input_std=list(net.input_std))
    images = np.random.default_rng(0).random((2, 3, size, size), dtype=np.float32)
    path, diffs = export_module(net.eval(), card, images, tmp_path / "lite.onnx")
    assert path.is_file() and max(diffs.values()) < 1e-4
