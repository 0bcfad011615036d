"""ENAS on imbalanced data: class-balanced shared loss and reward, and the controller's reward curve."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medvision_app.networks.enas_space import CellNetwork, supernet_layout
from medvision_app.search.config import EnasSettings, SearchConfig
from medvision_app.search.data import SearchData
from medvision_app.search.enas_controller import Controller
from medvision_app.search.enas_search import _accuracy, _class_weights, new_enas_state, run_enas
from medvision_app.search.events import EnasEpochFinished
from medvision_app.search.summary import build_summary, render_markdown

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Majority(torch.nn.Module):
    """Always answers class 1, whatever the architecture."""

    def forward(self, x, arc):
        return torch.tensor([[0.0, 1.0]]).repeat(len(x), 1)


def test_balanced_accuracy_does_not_reward_the_majority_class():
    y = np.array([1] * 9 + [0])
    x = np.zeros((10, 1, 4, 4), np.float32)
    assert _accuracy(Majority(), None, x, y, "cpu") == pytest.approx(0.9)
    assert _accuracy(Majority(), None, x, y, "cpu", balanced=True) == pytest.approx(0.5)


def test_class_weights_equalise_the_classes():
    y = np.array([1] * 9 + [0])
    w = _class_weights(y, 3)
    assert w.tolist() == pytest.approx([10 / 3, 10 / 27, 0.0])
    assert float(w[0] * 1 + w[1] * 9) == pytest.approx(10 / 3 * 2)  # each present class weighs the same in total


def test_enas_reports_the_controller_reward_curve(tmp_path):
    rng = np.random.default_rng(0)
    y = np.array([0] * 4 + [1] * 12, np.int64)  # 75 % one class, as BreastMNIST
    x = rng.random((16, 1, 8, 8), dtype=np.float32)
    x[y == 0, :, 2:6, 2:6] += 1.0
    data = SearchData(x, y, x, y, x, y, ["m", "b"])
    cfg = SearchConfig(method="enas", enas=EnasSettings(channels=4, layers_per_stage=1, controller_steps=3,
                                                        batch_size=8, epochs=2, derive_samples=2, final_channels=4))
    events = []
    state = run_enas(cfg, tmp_path, data, new_enas_state(cfg, 2), emit=events.append)
    finished = [e for e in events if isinstance(e, EnasEpochFinished)]
    assert [e.epoch for e in finished] == [1, 2]
    assert all(e.entropy > 0 for e in finished)  # the bonus term was computed from a real distribution
    summary = build_summary(state, None)
    curve = summary["controller_reward_curve"]
    assert [c["epoch"] for c in curve] == [1, 2]
    assert all(0.0 <= c["mean_reward"] <= 1.01 and c["baseline"] != 0.0 for c in curve)
    assert [len(e["rewards"]) for e in state["epochs"]] == [3, 3]
    assert "Controller reward curve" in render_markdown(summary)
    # the derived answer was picked on balanced accuracy, which every candidate records
    assert all("val_balanced_accuracy" in state["candidates"][c] for c in state["finished"])


def test_balanced_loss_weighs_the_minority_class_more():
    torch.manual_seed(0)
    net = CellNetwork(supernet_layout(1), 1, 2, 4, 5)
    arc, _, _ = Controller(5)()
    y = torch.tensor([0] + [1] * 7)
    logits = net(torch.rand(8, 1, 8, 8), arc)
    plain = torch.nn.functional.cross_entropy(logits, y)
    weighted = torch.nn.functional.cross_entropy(logits, y, weight=_class_weights(y.numpy(), 2))
    assert torch.isfinite(weighted) and not torch.isclose(plain, weighted)
