"""ENAS: the micro space, the supernet, final shapes, and the controller's REINFORCE step."""

from __future__ import annotations

import pytest
import torch

from medvision_app.networks.enas_space import OPS, SHAPES, Arc, CellNetwork, supernet_layout, unused_nodes
from medvision_app.search.enas_controller import Controller, Reinforce

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_sampled_arcs_follow_the_micro_space():
    torch.manual_seed(0)
    controller = Controller(n_nodes=5)
    for _ in range(5):
        arc, log_prob, entropy = controller()
        for cell in (arc.normal, arc.reduce):
            assert len(cell) == 5
            for i, (x, ox, y, oy) in enumerate(cell):
                assert 0 <= x < i + 2 and 0 <= y < i + 2
                assert 0 <= ox < len(OPS) and 0 <= oy < len(OPS)
            assert unused_nodes(cell)  # the last node is never read
        assert log_prob.item() < 0 and entropy.item() > 0
        assert Arc.from_json(arc.to_json()) == arc


def test_supernet_and_final_networks_run():
    torch.manual_seed(0)
    arc, _, _ = Controller()()
    x = torch.randn(2, 1, 28, 28)
    supernet = CellNetwork(supernet_layout(1), 1, 3, channels=8)
    assert supernet(x, arc).shape == (2, 3)
    for shape, cells in (("enas-7", 7), ("enas-17", 17)):
        net = CellNetwork(SHAPES[shape], 1, 3, channels=8, arc=arc)
        assert len(net.cells) == cells
        assert net(x).shape == (2, 3)


def test_one_reinforce_step_moves_the_distribution_towards_a_rewarded_arc():
    torch.manual_seed(1)
    controller = Controller()
    optimizer = torch.optim.Adam(controller.parameters(), lr=0.0035)
    reinforce = Reinforce(entropy_weight=1e-4, baseline_decay=0.99)
    before = {k: v.clone() for k, v in controller.state_dict().items()}
    arc, reward = reinforce.step(controller, optimizer, lambda a: 1.0)
    assert reward > 1.0  # accuracy plus the entropy bonus
    assert abs(reinforce.baseline - 0.01 * reward) < 1e-9
    with torch.no_grad():
        _, after_lp, _ = controller(arc)
        controller.load_state_dict(before)
        _, before_lp, _ = controller(arc)
    assert float(after_lp) > float(before_lp)


def test_enas_search_runs_saves_each_epoch_and_derives(tmp_path):
    import numpy as np

    from medvision_app.search.config import EnasSettings, SearchConfig
    from medvision_app.search.data import SearchData
    from medvision_app.search.enas_search import WEIGHTS, new_enas_state, run_enas
    from medvision_app.search.events import EnasEpochFinished
    from medvision_app.search.state import load_state, read_history

    rng = np.random.default_rng(0)
    x = rng.random((16, 1, 8, 8), dtype=np.float32)
    y = (np.arange(16) % 2).astype(np.int64)
    data = SearchData(x, y, x, y, x, y, ["a", "b"])
    cfg = SearchConfig(method="enas", enas=EnasSettings(channels=4, layers_per_stage=1, controller_steps=2,
                                                        batch_size=8, epochs=1, derive_samples=2, final_channels=4))
    events = []
    state = run_enas(cfg, tmp_path, data, new_enas_state(cfg, 2), emit=events.append)
    assert [e.epoch for e in events if isinstance(e, EnasEpochFinished)] == [1]
    assert (tmp_path / WEIGHTS).is_file()
    saved = load_state(tmp_path)
    assert saved["epoch"] == 1 and saved["phase"] == "final"
    history = read_history(tmp_path)
    assert [h["id"] for h in history] == ["derive-0", "derive-1"]
    assert state["result_id"] in {"derive-0", "derive-1"}
    assert Arc.from_json(state["candidates"][state["result_id"]]["arc"])
