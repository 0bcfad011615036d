"""train.ema_decay: the moving average of the weights is what a run validates, keeps, checkpoints and resumes."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from training_support import BNNet, full_and_resumed
from training_support import small_data as _data

from medvision_app.training import EarlyStoppingConfig, Trainer, TrainSettings
from medvision_app.training.averaging import WeightAverage
from medvision_app.utils.config_io import ConfigError, from_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _settings(**kw) -> TrainSettings:
    opts = dict(epochs=3, batch_size=16, lr=0.05, device="cpu", cpu_threads=1,
                early_stopping=EarlyStoppingConfig(enabled=False))
    opts.update(kw)
    return TrainSettings(**opts)


def _flat(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_average_follows_the_formula_and_swapping_twice_is_the_identity():
    torch.manual_seed(0)
    net = BNNet()
    start = _flat(net)
    avg = WeightAverage(net, 0.9)
    with torch.no_grad():
        net.fc.weight.add_(1.0)
    avg.update()  # step 1: decay min(0.9, 2 / 11)
    d = 2 / 11
    expected = d * start["fc.weight"] + (1 - d) * (start["fc.weight"] + 1.0)
    moved = _flat(net)
    avg.swap()
    assert avg.swapped and torch.allclose(net.fc.weight, expected, atol=1e-6)
    assert torch.equal(net.bn.num_batches_tracked, moved["bn.num_batches_tracked"])  # integers are not averaged
    with pytest.raises(RuntimeError):
        avg.update()
    avg.swap()
    assert not avg.swapped and all(torch.equal(v, moved[k]) for k, v in net.state_dict().items())


def test_tied_weights_are_averaged_and_swapped_once():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 3, bias=False)
            self.b = nn.Linear(3, 3, bias=False)
            self.b.weight = self.a.weight

    net = Tied()
    avg = WeightAverage(net, 0.5)
    with torch.no_grad():
        net.a.weight.add_(2.0)
    before = net.a.weight.detach().clone()
    avg.swap()
    assert not torch.equal(net.a.weight, before)  # a double swap would have put the same values back
    avg.swap()
    assert torch.equal(net.a.weight, before)


def test_a_run_validates_and_keeps_the_average_not_the_last_step(tmp_path):
    from medvision_app.training.checkpoints import read_checkpoint

    torch.manual_seed(0)
    plain = Trainer(BNNet(), _data(), _data(16, 1), _settings())
    plain.run()
    torch.manual_seed(0)
    averaged = Trainer(BNNet(), _data(), _data(16, 1), _settings(ema_decay=0.9), run_dir=str(tmp_path))
    averaged.run()
    # the raw weights took the same steps: the model now holds something else, the average
    assert averaged.ema.swapped
    raw = averaged.ema.state_dict()["weights"]
    conv = next(w for w in raw if w.shape == averaged.model.conv.weight.shape)
    assert torch.allclose(conv, plain.model.conv.weight, atol=1e-5)
    assert not torch.allclose(averaged.model.conv.weight, plain.model.conv.weight, atol=1e-3)
    # its validation figures are the average's
    probs, labels, loss = averaged.predict(_data(16, 1))
    assert loss == pytest.approx(averaged.history[-1]["val_loss"], rel=1e-5)
    saved = read_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert torch.equal(saved["model"]["conv.weight"], averaged.model.conv.weight.detach().cpu())


def test_a_run_with_the_average_resumes_to_identical_weights(tmp_path):
    def trainer(folder, seed=0, **kw):
        torch.manual_seed(seed)
        return Trainer(BNNet(), _data(), _data(16, 1), _settings(epochs=4, ema_decay=0.95, schedule="cosine"),
                       run_dir=str(folder), **kw)

    full, resumed = full_and_resumed(trainer, tmp_path)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["val_loss"] for h in full.history] == [h["val_loss"] for h in resumed.history]


def test_a_checkpoint_without_the_average_starts_it_from_its_weights(tmp_path):
    torch.manual_seed(0)
    Trainer(BNNet(), _data(), _data(16, 1), _settings(epochs=1), run_dir=str(tmp_path)).run()
    torch.manual_seed(5)
    later = Trainer(BNNet(), _data(), _data(16, 1), _settings(epochs=2, ema_decay=0.9), run_dir=str(tmp_path))
    later.resume(tmp_path / "checkpoints" / "last.pt")
    later.ema.swap()
    from medvision_app.training.checkpoints import read_checkpoint

    saved = read_checkpoint(tmp_path / "checkpoints" / "last.pt")["model"]
    assert torch.equal(later.model.conv.weight.detach(), saved["conv.weight"])  # not the seed-5 start


def test_the_decay_is_range_checked_by_the_schema():
    with pytest.raises(ConfigError):
        from_dict(TrainSettings, {"ema_decay": 1.0})
    assert from_dict(TrainSettings, {"ema_decay": 0.999}).ema_decay == 0.999
