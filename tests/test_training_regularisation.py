"""Issue 16's training features: label smoothing, mixup, cosine schedule, batch-norm re-estimation, flips at test time."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from training_support import BNNet, full_and_resumed
from training_support import small_data as _data

from medvision_app.training import EarlyStoppingConfig, Trainer, TrainSettings
from medvision_app.training.bn_stats import reestimate_batch_norm
from medvision_app.training.finish import predict_logits
from medvision_app.training.losses import build_loss
from medvision_app.training.regularisation import mixed_loss, mixup
from medvision_app.utils.config_io import ConfigError, from_dict

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_label_smoothing_spreads_the_target():
    logits = torch.tensor([[4.0, -1.0, 0.5]])
    target = torch.tensor([0])
    got = float(build_loss("ce", np.array([0, 1, 2]), 3, label_smoothing=0.3)(logits, target))
    log_p = torch.log_softmax(logits, 1)[0]
    expected = -(0.7 + 0.1) * float(log_p[0]) - 0.1 * float(log_p[1]) - 0.1 * float(log_p[2])
    assert got == pytest.approx(expected, rel=1e-6)
    assert got > float(build_loss("ce", np.array([0, 1, 2]), 3)(logits, target))


def test_smoothed_bce_targets_move_towards_one_half():
    loss = build_loss("bce", np.array([0, 1]), 2, label_smoothing=0.2)
    logit = torch.tensor([[2.0]])
    p = 1 / (1 + math.exp(-2.0))
    expected = -(0.9 * math.log(p) + 0.1 * math.log(1 - p))
    assert float(loss(logit, torch.tensor([1]))) == pytest.approx(expected, rel=1e-6)


def test_mixup_blends_inputs_and_loss_with_one_weight_and_repeats_per_batch():
    x = torch.randn(8, 1, 4, 4)
    y = torch.arange(8) % 2
    meta = torch.randn(8, 3)
    a = mixup(x, y, meta, 0.4, seed=1, epoch=2, batch=3)
    b = mixup(x, y, meta, 0.4, seed=1, epoch=2, batch=3)
    c = mixup(x, y, meta, 0.4, seed=1, epoch=2, batch=4)
    assert a.lam == b.lam and torch.equal(a.x, b.x) and a.lam != c.lam
    assert 0 < a.lam < 1
    # each mixed image is lam * itself + (1 - lam) * its partner, whose label is y_b
    for i in range(8):
        rest = (a.x[i] - a.lam * x[i]) / (1 - a.lam)
        j = int(torch.argmin(((x - rest) ** 2).flatten(1).sum(1)))
        assert torch.allclose(rest, x[j], atol=1e-5) and int(a.y_b[i]) == int(y[j])
        assert torch.allclose(a.metadata[i], a.lam * meta[i] + (1 - a.lam) * meta[j], atol=1e-5)
    crit = nn.CrossEntropyLoss()
    logits = torch.randn(8, 2)
    assert float(mixed_loss(crit, logits, y, a)) == pytest.approx(
        a.lam * float(crit(logits, y)) + (1 - a.lam) * float(crit(logits, a.y_b)), rel=1e-6)
    with pytest.raises(ValueError):
        mixup(x, y, None, 0.0, seed=0, epoch=1, batch=1)


def test_trainer_with_mixup_trains_differently_and_repeats():
    def train(alpha):
        torch.manual_seed(0)
        trainer = Trainer(BNNet(), _data(), _data(16, 1), TrainSettings(epochs=2, batch_size=16, device="cpu",
                                                                       mixup_alpha=alpha, cpu_threads=1))
        return [h["train_loss"] for h in trainer.run().history]

    plain, mixed, again = train(0.0), train(0.4), train(0.4)
    assert mixed == again and mixed != plain


def test_cosine_schedule_from_settings_keeps_the_new_layers_ratio():
    class Grouped(BNNet):
        def parameter_groups(self, lr, weight_decay):
            return [{"params": list(self.conv.parameters()) + list(self.bn.parameters()), "lr": lr},
                    {"params": list(self.fc.parameters()), "lr": lr * 10}]

    settings = TrainSettings(epochs=4, batch_size=16, lr=0.01, device="cpu", schedule="cosine", lr_min_factor=0.1,
                             cpu_threads=1, early_stopping=EarlyStoppingConfig(enabled=False))
    trainer = Trainer(Grouped(), _data(), _data(16, 1), settings)
    history = trainer.run().history
    assert len(history) == 4
    for h in history:  # the rate epoch e trained with: the curve after e - 1 completed epochs
        e = h["epoch"]
        expected = 0.001 + 0.5 * (0.01 - 0.001) * (1 + math.cos(math.pi * (e - 1) / 4))
        assert h["lr"] == pytest.approx(expected)
    groups = trainer.optimizer.param_groups
    assert groups[1]["lr"] == pytest.approx(10 * groups[0]["lr"])


def test_settings_refuse_cosine_with_plateau_and_out_of_range_regularisers():
    with pytest.raises((ConfigError, ValueError), match="cosine"):
        from_dict(TrainSettings, {"schedule": "cosine", "plateau": {"enabled": True}})
    with pytest.raises(ConfigError, match="label_smoothing"):
        from_dict(TrainSettings, {"label_smoothing": 0.7})
    with pytest.raises(ConfigError, match="schedule"):
        from_dict(TrainSettings, {"schedule": "step"})
    with pytest.raises(ConfigError, match="mixup_alpha"):
        from_dict(TrainSettings, {"mixup_alpha": -1.0})


def test_batch_norm_reestimation_gives_the_training_images_statistics():
    torch.manual_seed(0)
    net = BNNet()
    data = _data(48, augment=lambda img, rng: np.clip(img + 0.5, 0, 1))
    # stale statistics, as a 0.01 momentum leaves them
    net.bn.running_mean.fill_(5.0)
    net.bn.running_var.fill_(9.0)
    assert reestimate_batch_norm(net, data, torch.device("cpu"), batch_size=16) == 1
    with torch.no_grad():
        x = data._normalized(data.images.clone())  # the un-augmented images
        batches = [net.conv(part) for part in x.split(16)]
    # the cumulative average: every batch counts the same
    mean = torch.stack([h.mean((0, 2, 3)) for h in batches]).mean(0)
    var = torch.stack([h.var((0, 2, 3), unbiased=True) for h in batches]).mean(0)
    assert torch.allclose(net.bn.running_mean, mean, atol=1e-5)
    assert torch.allclose(net.bn.running_var, var, rtol=1e-4)
    assert net.bn.momentum == 0.01 and data.augment is not None and not net.training


def test_flip_tta_averages_the_logits_of_the_flipped_views():
    torch.manual_seed(0)
    net = BNNet().eval()
    data = _data(10)
    x = data.batch(torch.arange(10))[0]
    with torch.no_grad():
        plain = net(x).double().numpy()
        h = ((net(x) + net(torch.flip(x, (3,)))) / 2).double().numpy()
        hv = sum(net(torch.flip(x, d) if d else x) for d in [(), (3,), (2,), (2, 3)]).double().numpy() / 4
    assert np.allclose(predict_logits(net, data, torch.device("cpu")), plain, atol=1e-5)
    assert np.allclose(predict_logits(net, data, torch.device("cpu"), tta="hflip"), h, atol=1e-5)
    assert np.allclose(predict_logits(net, data, torch.device("cpu"), tta="hvflip"), hv, atol=1e-5)
    assert not np.allclose(h, plain, atol=1e-3)


def test_best_checkpoint_gets_reestimated_statistics_once(tmp_path):
    from medvision_app.training.checkpoints import read_checkpoint
    from medvision_app.training.finish import BN_MARK, reestimate_best

    torch.manual_seed(0)
    net = BNNet()
    train = _data()
    Trainer(net, train, _data(16, 1), TrainSettings(epochs=1, batch_size=16, device="cpu", cpu_threads=1),
            run_dir=str(tmp_path)).run()
    before = read_checkpoint(tmp_path / "checkpoints" / "best.pt")
    path = reestimate_best(BNNet(), train, tmp_path / "checkpoints", torch.device("cpu"), 16)
    after = read_checkpoint(path)
    assert path.name == "best.pt" and after[BN_MARK] and not before.get(BN_MARK)
    assert not torch.allclose(after["model"]["bn.running_mean"], before["model"]["bn.running_mean"])
    assert torch.equal(after["model"]["conv.weight"], before["model"]["conv.weight"])
    assert reestimate_best(BNNet(), train, tmp_path / "checkpoints", torch.device("cpu"), 16) is None


def test_cosine_and_mixup_run_resumes_to_identical_weights(tmp_path):
    opts = dict(epochs=4, batch_size=16, lr=0.01, device="cpu", cpu_threads=1, schedule="cosine",
                mixup_alpha=0.4, label_smoothing=0.1, early_stopping=EarlyStoppingConfig(enabled=False))

    def trainer(folder, seed=0, **kw):
        torch.manual_seed(seed)
        return Trainer(BNNet(), _data(), _data(16, 1), TrainSettings(**opts), run_dir=str(folder), **kw)

    full, resumed = full_and_resumed(trainer, tmp_path)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["lr"] for h in full.history] == [h["lr"] for h in resumed.history]
