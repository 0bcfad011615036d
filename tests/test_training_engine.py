"""The training engine on a tiny network and a few batches of real BreastMNIST data (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from medvision_app.data import DataConfig, InMemoryDataset, prepare_data
from medvision_app.events import CancelToken
from medvision_app.training import (
    BatchProgress,
    CheckpointSaved,
    EarlyStoppingConfig,
    EpochFinished,
    PlateauConfig,
    RunCancelled,
    RunFailed,
    RunStarted,
    Trainer,
    TrainingError,
    TrainSettings,
    class_weights,
)
from medvision_app.training.losses import build_loss


class TinyNet(nn.Module):
    """Small enough that a BreastMNIST epoch takes a fraction of a second."""

    def __init__(self, classes: int = 2, outputs: int | None = None) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(16, outputs or classes)
        self.poison = False

    def forward(self, x):
        out = self.fc(self.drop(self.features(x)))
        return out * float("nan") if self.poison else out


@pytest.fixture(scope="module")
def breast(shared_data):
    path = shared_data / "breastmnist" / "breastmnist.npz"
    prepared = prepare_data(DataConfig(path=str(path), limit=192), path, input_size=28, in_channels=1)
    return prepared.datasets


def _trainer(data, tmp_path=None, *, model=None, emit=None, cancel=None, **settings):
    torch.manual_seed(0)
    model = model or TinyNet()
    opts = dict(epochs=3, batch_size=32, device="cpu", progress_every=1, cpu_threads=1)
    opts.update(settings)
    return Trainer(model, data["train"], data["val"], TrainSettings(**opts),
                   run_dir=None if tmp_path is None else str(tmp_path), emit=emit or (lambda e: None), cancel=cancel)


def test_loss_decreases_and_events_arrive_in_order(breast, tmp_path):
    events = []
    result = _trainer(breast, tmp_path, emit=events.append, epochs=4, lr=3e-3).run()
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    kinds = [e.kind for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "RunFinished"
    assert kinds.count("EpochFinished") == 4 and kinds.count("EpochStarted") == 4
    assert isinstance(events[0], RunStarted) and events[0].batches_per_epoch == 6
    batches = [e for e in events if isinstance(e, BatchProgress) and e.epoch == 1]
    assert [b.batch for b in batches] == list(range(1, 7))
    # the outside listener sees the epoch end before that epoch's checkpoint
    first_ckpt = next(i for i, e in enumerate(events) if isinstance(e, CheckpointSaved))
    assert isinstance(events[first_ckpt - 1], EpochFinished)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 4
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 4 and "loader" in state["rng"]


def test_killed_between_epochs_resumes_to_identical_weights(breast, tmp_path):
    full = _trainer(breast, tmp_path / "full", epochs=4)
    full.run()

    cancel = CancelToken()

    def stop_after_two(event):
        if isinstance(event, CheckpointSaved) and event.epoch == 2:
            cancel.cancel()

    first = _trainer(breast, tmp_path / "cut", emit=stop_after_two, cancel=cancel, epochs=4)
    assert first.run().reason == "cancelled"
    # a fresh process would build a fresh model from scratch: do the same
    torch.manual_seed(123)
    np.random.seed(5)
    resumed = _trainer(breast, tmp_path / "cut", epochs=4, model=TinyNet())
    resumed.resume(tmp_path / "cut" / "checkpoints" / "last.pt")
    assert resumed.epoch == 2
    result = resumed.run()
    assert result.epochs_run == 4
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["train_loss"] for h in full.history] == [h["train_loss"] for h in resumed.history]
    lines = (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4


def test_nan_loss_stops_with_reason_and_keeps_last_good_checkpoint(breast, tmp_path):
    model = TinyNet()
    events = []

    def poison_after_first(event):
        events.append(event)
        if isinstance(event, CheckpointSaved) and event.epoch == 1:
            model.poison = True

    trainer = _trainer(breast, tmp_path, model=model, emit=poison_after_first)
    with pytest.raises(TrainingError, match="training loss became nan in epoch 2"):
        trainer.run()
    assert isinstance(events[-1], RunFailed) and "nan" in events[-1].reason
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_cancel_mid_epoch(breast):
    cancel = CancelToken()
    events = []

    def cancel_at_third_batch(event):
        events.append(event)
        if isinstance(event, BatchProgress) and event.batch == 3:
            cancel.cancel()

    result = _trainer(breast, emit=cancel_at_third_batch, cancel=cancel).run()
    assert result.reason == "cancelled" and result.epochs_run == 0
    assert isinstance(events[-1], RunCancelled)


def test_early_stopping_and_plateau(breast, tmp_path):
    # a learning rate of ~0 improves nothing: patience runs out and the plateau cuts the rate
    trainer = _trainer(
        breast, tmp_path, epochs=10, lr=1e-12,
        early_stopping=EarlyStoppingConfig(monitor="val_loss", patience=2, min_delta=1.0),
        plateau=PlateauConfig(enabled=True, patience=0, factor=0.2),
    )
    result = trainer.run()
    assert result.reason == "early stopping" and result.epochs_run == 3
    lrs = [h["lr"] for h in result.history]
    assert lrs[1] == pytest.approx(lrs[0] * 0.2) and lrs[2] == pytest.approx(lrs[0] * 0.04)
    assert torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["handlers"]["early_stopping"]["wait"] == 2


def test_class_weights_match_formula():
    labels = np.array([0] * 6 + [1] * 3 + [2] * 1)
    w = class_weights(labels, 3)
    n, c = len(labels), 3
    assert np.allclose(w, [n / (c * 6), n / (c * 3), n / (c * 1)])
    assert np.allclose(class_weights(np.array([0, 1, 0, 1]), 2), 1.0)
    loss = build_loss("weighted_ce", labels, 3)
    assert torch.allclose(loss.weight, torch.tensor(w, dtype=torch.float32))
    with pytest.raises(TrainingError, match="class index 1 has no training sample"):
        class_weights(np.array([0, 0, 2]), 3)


def test_weighted_and_binary_losses_train(breast):
    for loss, outputs in (("weighted_ce", 2), ("bce", 1), ("bce", 2)):
        result = _trainer(breast, model=TinyNet(outputs=outputs), loss=loss, epochs=1).run()
        assert np.isfinite(result.history[0]["train_loss"])
        assert result.history[0]["val_auc"] is not None


def test_sgdm_and_new_layer_groups_with_plain_module():
    class Grouped(TinyNet):
        def parameter_groups(self, base_lr, weight_decay):
            return [
                {"params": self.features.parameters(), "lr": base_lr},
                {"params": self.fc.parameters(), "lr": base_lr * 20},
            ]

    rng = np.random.default_rng(0)
    data = InMemoryDataset(rng.integers(0, 255, (40, 1, 12, 12), dtype=np.uint8), rng.integers(0, 2, 40))
    trainer = Trainer(Grouped(), data, None, TrainSettings(epochs=1, optimizer="sgdm", lr=0.01, device="cpu", cpu_threads=1))
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [0.01, pytest.approx(0.2)]
    assert trainer.optimizer.param_groups[0]["momentum"] == 0.9
    result = trainer.run()
    assert result.epochs_run == 1 and "val_loss" not in result.history[0]


def test_augmentation_is_seeded_per_epoch_and_sample():
    calls = []

    def augment(img, rng):
        calls.append(float(rng.random()))
        return img[::-1].copy()

    images = np.arange(4 * 6 * 6, dtype=np.uint8).reshape(4, 1, 6, 6)
    data = InMemoryDataset(images, [0, 1, 0, 1], augment=augment, seed=7)
    x1, _, _ = data.batch(torch.tensor([0, 1]), epoch=3)
    x2, _, _ = data.batch(torch.tensor([0, 1]), epoch=3)
    assert torch.equal(x1, x2) and calls[:2] == calls[2:]
    assert torch.equal(x1[0, 0], torch.from_numpy(images[0, 0][::-1].copy()).float() / 255)
    data.batch(torch.tensor([0]), epoch=4)
    assert calls[-1] != calls[0]


def test_metadata_reaches_the_model():
    class WithMetadata(nn.Module):
        def __init__(self):
            super().__init__()
            self.image = nn.Sequential(nn.Flatten(), nn.Linear(36, 4))
            self.fc = nn.Linear(4 + 3, 2)
            self.seen = None

        def forward(self, x, metadata):
            self.seen = metadata
            return self.fc(torch.cat([self.image(x), metadata], 1))

    rng = np.random.default_rng(0)
    meta = rng.normal(size=(20, 3)).astype(np.float32)
    data = InMemoryDataset(rng.integers(0, 255, (20, 1, 6, 6), dtype=np.uint8), rng.integers(0, 2, 20), meta)
    model = WithMetadata()
    result = Trainer(model, data, data, TrainSettings(epochs=1, batch_size=20, device="cpu")).run()
    assert result.epochs_run == 1
    assert torch.equal(model.seen, torch.from_numpy(meta))  # validation runs in order


def test_training_flushes_subnormal_floats_and_restores_the_default_after():
    # x86 arithmetic on subnormals is tens of times slower; weight decay drives weights into that range
    from medvision_app.training.engine import flush_denormals

    tiny = torch.tensor([1e-39], dtype=torch.float32)  # a float32 subnormal
    with flush_denormals() as supported:
        if not supported:
            pytest.skip("this CPU cannot flush subnormals")
        with flush_denormals():
            assert float(tiny * 1.0) == 0.0
        assert float(tiny * 1.0) == 0.0  # the outer block still flushes
    assert float(tiny * 1.0) > 0.0
