"""The training engine: one loop, typed events, and handlers that attach to it.

The engine owns the loop and the state that must survive a crash (model,
optimiser, schedule, random generators, epoch, history). Everything else
(checkpoint files, early stopping, the metrics log, a progress bar, the GUI
bridge) is a handler with ``attach(engine)`` that listens to events with
:meth:`Trainer.on` and, when it has state of its own, registers it with
:meth:`Trainer.register_state` so it is checkpointed too.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn

from medvision_app.evaluation.metrics import summary_metrics
from medvision_app.events import Cancelled, CancelToken, Emit, Event, ignore
from medvision_app.training.errors import TrainingError
from medvision_app.training.events import (
    BatchProgress,
    EpochFinished,
    EpochStarted,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
)
from medvision_app.training.losses import build_loss, probabilities
from medvision_app.training.optim import build_optimizer, build_plateau
from medvision_app.training.rng import capture_rng, restore_rng, seed_everything
from medvision_app.training.settings import TrainSettings

CHECKPOINT_FORMAT = 1


def resolve_device(name: str) -> torch.device:
    """``"auto"`` is CUDA when a CUDA device is really there, else the CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device is 'cuda' but no CUDA device is available")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@contextlib.contextmanager
def cpu_threads(count: Optional[int]):
    """Use ``count`` intra-op CPU threads inside the block (None: leave as is)."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_flush_depth = 0


@contextlib.contextmanager
def flush_denormals():
    """Treat subnormal floats as zero on the CPU inside the block.

    Weights that weight decay drives toward zero, and the gradients through
    them, fall into the subnormal range, where x86 arithmetic is tens of times
    slower: retraining a BbNAS answer on MNIST went from 163 s to 636 s per
    epoch, and one step of that checkpoint took 4.3 s against 0.25 s flushed.
    Values below 1.2e-38 carry nothing a network uses. Nested blocks share one
    setting; the last one out restores the default.
    """
    global _flush_depth
    supported = torch.set_flush_denormal(True)
    _flush_depth += 1
    try:
        yield supported
    finally:
        _flush_depth -= 1
        if _flush_depth == 0:
            torch.set_flush_denormal(False)


def monitor_mode(monitor: str) -> str:
    return "min" if monitor.endswith("loss") else "max"


@dataclass
class TrainResult:
    epochs_run: int
    reason: str  # "completed", "early stopping" or "cancelled"
    history: list[dict] = field(default_factory=list)
    best_epoch: Optional[int] = None
    best_value: Optional[float] = None

    @property
    def best_metrics(self) -> Optional[dict]:
        if self.best_epoch is None:
            return None
        return next((h for h in self.history if h["epoch"] == self.best_epoch), None)


class Trainer:
    """Trains any ``nn.Module`` on datasets with a ``batch(index, epoch)`` method.

    Parameters
    ----------
    model : nn.Module
        Called as ``model(x)``, or ``model(x, metadata)`` when the data has
        metadata; returns logits ``(N, C)`` (or ``(N, 1)`` with the BCE loss).
    train_data, val_data : :class:`medvision_app.data.InMemoryDataset` or alike
        ``len()`` and ``batch(index_tensor, epoch) -> (x, y, metadata or None)``.
        Without ``val_data`` the monitors fall back to ``train_loss``.
    settings : TrainSettings
    loss : nn.Module, optional
        Default: built from ``settings.loss`` and the training labels.
    num_classes : int, optional
        For the class weights; default ``model.num_classes`` if it has one,
        else the largest training label + 1.
    config : dict, optional
        The run configuration stored inside every checkpoint.
    run_dir : path, optional
        Where ``metrics.jsonl`` and ``checkpoints/`` go. Without it nothing is
        written (a search's candidates train in memory).
    emit, cancel
        Event callback and cancellation token (see :mod:`medvision_app.events`).
    default_handlers : bool
        Attach what ``settings`` and ``run_dir`` ask for: the metrics log,
        early stopping (when enabled) and checkpoints, in that order. More
        handlers (a progress bar) attach with :meth:`attach`.
    """

    def __init__(
        self,
        model: nn.Module,
        train_data: Any,
        val_data: Any = None,
        settings: Optional[TrainSettings] = None,
        *,
        loss: Optional[nn.Module] = None,
        num_classes: Optional[int] = None,
        config: Optional[dict] = None,
        run_dir: Optional[str] = None,
        emit: Emit = ignore,
        cancel: Optional[CancelToken] = None,
        default_handlers: bool = True,
    ) -> None:
        self.settings = settings or TrainSettings()
        if len(train_data) == 0:
            raise TrainingError("the training set is empty")
        self.device = resolve_device(self.settings.device)
        if self.device.type == "cuda" and self.settings.deterministic:
            # cuBLAS reads this when its first handle is made; without it matmuls are not repeatable
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        self.model = model.to(self.device)
        self.train_data = train_data
        self.val_data = val_data if val_data is not None and len(val_data) else None
        self.config = config or {}
        self.run_dir = run_dir
        self._emit = emit
        self.cancel = cancel or CancelToken()
        labels = train_data.labels.numpy() if isinstance(train_data.labels, torch.Tensor) else np.asarray(train_data.labels)
        num_classes = num_classes or getattr(model, "num_classes", None) or int(labels.max()) + 1
        self.criterion = (loss or build_loss(self.settings.loss, labels, int(num_classes),
                                             label_smoothing=self.settings.label_smoothing)).to(self.device)
        self.optimizer = build_optimizer(self.model, self.settings)
        self.scheduler = build_plateau(self.optimizer, self.settings)
        cuda = self.device.type == "cuda"
        self.amp = cuda and self.settings.mixed_precision
        self.channels_last = cuda and self.settings.channels_last
        self.scaler = torch.amp.GradScaler("cuda") if self.amp else None
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loader_generator = torch.Generator()
        self.epoch = 0  # completed epochs
        self.history: list[dict] = []
        self.stop_reason: Optional[str] = None
        self.best_epoch: Optional[int] = None
        self.best_value: Optional[float] = None
        self._listeners: dict[type, list[Callable[[Event], None]]] = defaultdict(list)
        self._stateful: dict[str, Any] = {}
        self._resumed = False
        self._start_average()
        if default_handlers:
            self._attach_defaults()

    def _start_average(self) -> None:
        """The weight average of ``train.ema_decay``, started from the model's current weights."""
        self.ema = None
        self._stateful.pop("ema", None)
        if self.settings.ema_decay > 0:
            from medvision_app.training.averaging import WeightAverage

            self.ema = WeightAverage(self.model, self.settings.ema_decay)
            self.register_state("ema", self.ema)

    def _attach_defaults(self) -> None:
        # handlers imports this module, hence the late import
        from medvision_app.training.handlers import Checkpointer, EarlyStopping, MetricsLogger

        es = self.settings.early_stopping
        if self.run_dir is not None:
            self.attach(MetricsLogger(Path(self.run_dir) / "metrics.jsonl"))
        if self.settings.schedule == "cosine":
            from medvision_app.training.schedules import CosineSchedule

            lr = self.settings.lr
            self.attach(CosineSchedule(lr, lr * self.settings.lr_min_factor, self.settings.epochs))
        if es.enabled:
            self.attach(EarlyStopping(es.monitor, es.patience, es.min_delta))
        if self.run_dir is not None:
            self.attach(Checkpointer(Path(self.run_dir) / "checkpoints"))

    # -- events and handlers -------------------------------------------------
    def on(self, event_type: type, callback: Callable[[Event], None]) -> None:
        """Call ``callback(event)`` for each ``event_type`` event, in attach order, after ``emit``."""
        self._listeners[event_type].append(callback)

    def fire(self, event: Event) -> None:
        # The outside listener hears an event before the handlers react to it,
        # so it sees EpochFinished before that epoch's CheckpointSaved.
        self._emit(event)
        for callback in self._listeners.get(type(event), ()):
            callback(event)

    def attach(self, *handlers: Any) -> "Trainer":
        for handler in handlers:
            handler.attach(self)
        return self

    def register_state(self, name: str, obj: Any) -> None:
        """Checkpoint ``obj.state_dict()`` under ``name`` and restore it on resume."""
        self._stateful[name] = obj

    @property
    def monitor(self) -> str:
        monitor = self.settings.early_stopping.monitor
        return monitor if self.val_data is not None or not monitor.startswith("val_") else "train_loss"

    # -- checkpoints ---------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue bit for bit; loadable with ``weights_only=True``."""
        model = self.model
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "model": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "rng": capture_rng(self.loader_generator),
            "history": list(self.history),
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "handlers": {name: obj.state_dict() for name, obj in self._stateful.items()},
            "config": self.config,
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("format") != CHECKPOINT_FORMAT:
            raise TrainingError(f"checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT}")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise TrainingError(f"checkpoint does not fit this model: {str(exc).splitlines()[0]}") from None
        if self.scheduler is not None and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        self.best_epoch = state.get("best_epoch")
        self.best_value = state.get("best_value")
        handlers = state.get("handlers", {})
        if self.ema is not None and "ema" not in handlers:
            self._start_average()  # a checkpoint from a run without the average: start it from these weights
        for name, obj in self._stateful.items():
            if name in handlers:
                try:
                    obj.load_state_dict(handlers[name])
                except ValueError as exc:
                    raise TrainingError(f"checkpoint does not fit this run: {exc}") from None
        restore_rng(state["rng"], self.loader_generator)
        self._resumed = True

    def resume(self, path) -> "Trainer":
        """Load a checkpoint written by :class:`~medvision_app.training.handlers.Checkpointer`."""
        from medvision_app.training.checkpoints import read_checkpoint

        self.load_state_dict(read_checkpoint(path))
        return self

    # -- the loop ------------------------------------------------------------
    def _forward(self, x: torch.Tensor, meta: Optional[torch.Tensor]) -> torch.Tensor:
        return self.model(x) if meta is None else self.model(x, meta)

    def _to_device(self, x, y, meta):
        x = x.to(self.device, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = y.to(self.device, non_blocking=True)
        if meta is not None:
            meta = meta.to(self.device, non_blocking=True)
        return x, y, meta

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()

    def _batches(self, n: int, batch_size: int, shuffle: bool) -> list[torch.Tensor]:
        order = torch.randperm(n, generator=self.loader_generator) if shuffle else torch.arange(n)
        batches = list(order.split(batch_size))
        # BatchNorm cannot train on a single sample: fold a trailing one into the batch before.
        if shuffle and len(batches) > 1 and len(batches[-1]) == 1:
            batches[-2] = torch.cat([batches[-2], batches.pop()])
        return batches

    def _train_epoch(self, epoch: int) -> float:
        model, optimizer, data = self.model, self.optimizer, self.train_data
        if self.ema is not None and self.ema.swapped:
            self.ema.swap()  # the raw weights train; the average was in place for the last epoch's handlers
        model.train()
        batches = self._batches(len(data), self.settings.batch_size, shuffle=True)
        every = self.settings.progress_every
        members = len(model.members) if hasattr(model, "member_logits") else 1
        total = torch.zeros((), device=self.device)
        seen = 0
        for b, index in enumerate(batches, 1):
            if self.cancel.cancelled:
                raise Cancelled()
            x, y, meta = self._to_device(*data.batch(index, epoch))
            optimizer.zero_grad(set_to_none=True)
            with self._autocast():
                loss = self._loss(x, y, meta, epoch, b)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(optimizer)
                self.scaler.update()
            else:
                loss.backward()
                optimizer.step()
            if self.ema is not None:
                self.ema.update()
            total += loss.detach() * (len(index) / members)
            seen += len(index)
            if b % every == 0 or b == len(batches):
                mean = float(total) / seen
                if not math.isfinite(mean):
                    raise TrainingError(f"the training loss became {mean} in epoch {epoch}, batch {b}")
                self.fire(BatchProgress(epoch, b, len(batches), mean))
        return float(total) / seen

    def _loss(self, x: torch.Tensor, y: torch.Tensor, meta: Optional[torch.Tensor], epoch: int,
              batch: int) -> torch.Tensor:
        alpha = self.settings.mixup_alpha
        if alpha <= 0:
            return self._criterion_on(self._member_outputs(x, meta), lambda z: self.criterion(z, y))
        from medvision_app.training.regularisation import mixed_loss, mixup

        mix = mixup(x, y, meta, alpha, seed=self.settings.seed, epoch=epoch, batch=batch)
        return self._criterion_on(self._member_outputs(mix.x, mix.metadata),
                                  lambda z: mixed_loss(self.criterion, z, y, mix))

    def _member_outputs(self, x: torch.Tensor, meta: Optional[torch.Tensor]) -> list[torch.Tensor]:
        # An ensemble trains each member on its own loss (networks/ensemble.py); one network is its own member.
        member_logits = getattr(self.model, "member_logits", None)
        if member_logits is None:
            return [self._forward(x, meta)]
        return member_logits(x, meta)

    @staticmethod
    def _criterion_on(outputs: list[torch.Tensor], loss) -> torch.Tensor:
        # The sum, not the mean: each member gets the gradient it would get trained alone
        # (the same step size under SGD); _train_epoch reports the per-member mean.
        total = loss(outputs[0])
        for z in outputs[1:]:
            total = total + loss(z)
        return total

    @torch.no_grad()
    def predict(self, data: Any) -> tuple[np.ndarray, np.ndarray, float]:
        """Probabilities ``(N, C)``, labels ``(N,)`` and mean loss of ``data`` in evaluation mode."""
        self.model.eval()
        size = self.settings.eval_batch_size or max(self.settings.batch_size, 64)
        probs, labels = [], []
        total = 0.0
        for index in self._batches(len(data), size, shuffle=False):
            x, y, meta = self._to_device(*data.batch(index, 0))
            with self._autocast():
                logits = self._forward(x, meta)
            total += float(self.criterion(logits.float(), y)) * len(index)
            probs.append(probabilities(logits).cpu())
            labels.append(y.cpu())
        return torch.cat(probs).numpy(), torch.cat(labels).numpy(), total / max(1, len(data))

    def _validate(self) -> dict:
        if self.val_data is None:
            return {}
        probs, labels, loss = self.predict(self.val_data)
        if not math.isfinite(loss):
            raise TrainingError(f"the validation loss became {loss} in epoch {self.epoch + 1}")
        summary = summary_metrics(labels, probs)
        return {"val_loss": loss, **{f"val_{k}": v for k, v in summary.items()}}

    def _update_best(self, metrics: dict) -> None:
        value = metrics.get(self.monitor)
        if value is None:
            return
        better = (
            self.best_value is None
            or (value < self.best_value if monitor_mode(self.monitor) == "min" else value > self.best_value)
        )
        if better:
            self.best_epoch, self.best_value = metrics["epoch"], float(value)

    def run(self) -> TrainResult:
        """Train from epoch ``self.epoch + 1`` to ``settings.epochs``; returns how it ended.

        Raises :class:`TrainingError` (after a ``RunFailed`` event) for a
        non-finite loss; checkpoints written before stay as they were.
        """
        with flush_denormals():
            return self._run()

    def _run(self) -> TrainResult:
        settings = self.settings
        if not self._resumed:
            seed_everything(settings.seed)
            self.loader_generator.manual_seed(settings.seed)
        previous_threads = torch.get_num_threads()
        if settings.cpu_threads is not None:
            torch.set_num_threads(settings.cpu_threads)
        previous_det = torch.are_deterministic_algorithms_enabled()
        previous_cudnn = torch.backends.cudnn.benchmark
        if settings.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        else:
            torch.backends.cudnn.benchmark = self.device.type == "cuda"
        start = self.epoch
        batches = len(self._batches(len(self.train_data), settings.batch_size, shuffle=False))
        self.fire(RunStarted(settings.epochs, start, len(self.train_data),
                             len(self.val_data) if self.val_data is not None else 0, batches,
                             str(self.device), self.run_dir))
        reason = "completed"
        try:
            for epoch in range(start + 1, settings.epochs + 1):
                if self.cancel.cancelled:
                    raise Cancelled()
                self.fire(EpochStarted(epoch, settings.epochs, self.optimizer.param_groups[0]["lr"]))
                began = time.perf_counter()
                train_loss = self._train_epoch(epoch)
                train_seconds = time.perf_counter() - began
                if self.ema is not None:
                    # Validation, the best epoch's copy and the checkpoint's ``model`` are the average's.
                    self.ema.swap()
                self.epoch = epoch
                metrics = {"epoch": epoch, "train_loss": train_loss, **self._validate()}
                metrics["lr"] = self.optimizer.param_groups[0]["lr"]
                metrics["seconds"] = time.perf_counter() - began
                metrics["images_per_s"] = len(self.train_data) / train_seconds if train_seconds > 0 else None
                if self.scheduler is not None:
                    plateau_value = metrics.get(settings.plateau.monitor, metrics["train_loss"])
                    if plateau_value is not None:
                        self.scheduler.step(plateau_value)
                self._update_best(metrics)
                self.history.append(metrics)
                self.fire(EpochFinished(epoch, settings.epochs, metrics))
                if self.stop_reason:
                    reason = self.stop_reason
                    break
        except Cancelled:
            self.fire(RunCancelled(self.epoch))
            return TrainResult(self.epoch, "cancelled", list(self.history), self.best_epoch, self.best_value)
        except TrainingError as exc:
            self.fire(RunFailed(self.epoch, str(exc)))
            raise
        except Exception as exc:
            self.fire(RunFailed(self.epoch, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            torch.set_num_threads(previous_threads)
            torch.use_deterministic_algorithms(previous_det)
            torch.backends.cudnn.benchmark = previous_cudnn
        self.fire(RunFinished(self.epoch, self.best_epoch, self.best_value, self.monitor, reason))
        return TrainResult(self.epoch, reason, list(self.history), self.best_epoch, self.best_value)
