"""What a job's events add up to: curves, progress, time left, candidates. No Qt, so it is tested alone.

:class:`JobTrack` folds event dicts (as :class:`~medvision_app.jobs.process.JobProcess`
and :class:`~medvision_app.jobs.process.EventTail` deliver them) into
growing numpy series and a few facts. A monitor reads the series once per
redraw; nothing is rebuilt per event, so tens of thousands of events cost
amortised O(1) each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np


class Series:
    """x/y points appended in amortised O(1): a doubling float64 buffer and a view of its filled part."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.n = 0
        self.version = 0  # bumped on every change: a view redraws only when it moved

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.concatenate([self._x, np.empty(len(self._x))])
            self._y = np.concatenate([self._y, np.empty(len(self._y))])
        self._x[self.n], self._y[self.n] = x, y
        self.n += 1
        self.version += 1

    def clear(self) -> None:
        self.n = 0
        self.version += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    def __len__(self) -> int:
        return self.n


def decimate(x: np.ndarray, y: np.ndarray, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``max_points`` points that keep each bin's lowest and highest y (a spike stays visible).

    Painting 20,000 points took pyqtgraph about 100 ms a frame here (its
    auto-downsampling still computed bounds over all of them); two points per
    bin of a few hundred is a fraction of that, and looks the same on a
    dock-sized plot.
    """
    n = len(x)
    if n <= max_points:
        return x, y
    bins = max_points // 2
    per = n // bins
    used = bins * per
    yb = y[:used].reshape(bins, per)
    xb = x[:used].reshape(bins, per)
    lo, hi = yb.argmin(axis=1), yb.argmax(axis=1)
    first, second = np.minimum(lo, hi), np.maximum(lo, hi)
    rows = np.arange(bins)
    xs = np.column_stack([xb[rows, first], xb[rows, second]]).ravel()
    ys = np.column_stack([yb[rows, first], yb[rows, second]]).ravel()
    return np.concatenate([xs, x[used:]]), np.concatenate([ys, y[used:]])


@dataclass
class Candidate:
    id: str
    parent: Optional[str]
    transformation: str
    genotype: str
    params: int
    iteration: int
    accuracy: Optional[float] = None
    seconds: Optional[float] = None
    status: str = "training"


def pareto_front(params: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both fewer parameters and higher accuracy, by parameters."""
    order = np.lexsort((-accuracy, params))
    front, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            front.append(i)
            best = accuracy[i]
    return np.asarray(front, dtype=np.int64)


def progress_text(fraction: Optional[float], phase: Optional[str] = None) -> str:
    """A job's progress as the monitor and ``medvision jobs list`` print it: ``-`` when nothing bounds
    the job, a search's phase before its share ("retraining 40%")."""
    if fraction is None:
        return "-"
    return f"{phase} {fraction:.0%}" if phase else f"{fraction:.0%}"


def search_plan(config: dict) -> dict:
    """A search config's bounds, as the progress of its job needs them (``{}`` for anything else).

    ``budget_seconds`` and ``max_iterations`` (0: none), the ENAS shared
    epochs, and the retraining: ``final_runs`` retrainings of ``final_epochs``
    epochs at most, one after another (ENAS: one per final shape). An
    ensemble (``final.ensemble``) trains its networks side by side, in the
    same epochs, so it is one retraining.
    """
    if not isinstance(config, dict) or "method" not in config:
        return {}
    final, enas = config.get("final") or {}, config.get("enas") or {}
    plan = {"method": config["method"], "budget_seconds": float(config.get("budget_seconds") or 0.0),
            "max_iterations": int(config.get("max_iterations") or 0)}
    if config["method"] == "enas":
        plan.update(enas_epochs=int(enas.get("epochs") or 0), final_epochs=int(enas.get("final_epochs") or 0),
                    final_runs=max(1, len(enas.get("final_shapes") or [None])))
    else:
        plan.update(final_epochs=int(final.get("epochs") or 0), final_runs=1)
    return plan


@dataclass
class JobTrack:
    """The state of one job as far as its events tell.

    A search's progress is its phase's: ``search`` by the ENAS epochs, the
    time budget or the iteration budget (whichever is nearer its end; none
    when only the stopping rule ends it), then ``retraining`` by the epochs
    of the answer's networks. ``plan`` is :func:`search_plan` of its config.
    """

    batch_loss: Series = field(default_factory=Series)
    train_loss: Series = field(default_factory=Series)
    val_loss: Series = field(default_factory=Series)
    val_metric: Series = field(default_factory=Series)
    reward: Series = field(default_factory=Series)
    # the retraining of a search's answer (ENAS retrains one network per final shape, one after another)
    final_val_accuracy: Series = field(default_factory=Series)
    final_val_loss: Series = field(default_factory=Series)
    final_runs: int = 0
    candidates: dict = field(default_factory=dict)
    monitor: str = "val_accuracy"
    device: str = ""
    last_checkpoint: str = ""
    throughput: Optional[float] = None  # training images per second, last epoch
    fraction: Optional[float] = None
    seconds_left: Optional[float] = None
    status: str = ""
    message: str = ""
    chosen: str = ""  # the genotype a search answered
    summary: dict = field(default_factory=dict)
    events: int = 0
    plan: dict = field(default_factory=dict)
    phase: str = ""  # a search's: "search", then "retraining"
    _t0: Optional[float] = None  # when the search began, as far as its first timed event tells
    _t_last: Optional[float] = None
    _final_t: list = field(default_factory=list)  # times of the retraining's epochs
    _ended_by_work: bool = False  # a training or a search said how it ended (its message stays)
    _epochs: int = 0
    _start_epoch: int = 0
    _batches: int = 0
    _rate_start: Optional[tuple[float, int]] = None  # (time, batches done) at the first batch seen

    def feed(self, events: list[dict]) -> None:
        for event in events:
            self.events += 1
            t = event.get("t")
            if isinstance(t, (int, float)):
                if self._t0 is None:  # the first timed event ended a piece of work that took "seconds"
                    self._t0 = t - float(event.get("seconds") or 0.0)
                self._t_last = t
            handler = getattr(self, f"_on_{event.get('event')}", None)
            if handler is not None:
                handler(event)

    @property
    def progress_text(self) -> str:
        return progress_text(self.fraction, self.phase)

    def _search_progress(self, *, epoch: int = 0, iteration: Optional[int] = None) -> None:
        """The search phase's share and time left, from what bounds it."""
        plan = self.plan
        if not plan or self.phase == "retraining":
            return
        self.phase = "search"
        shares, lefts = [], []
        elapsed = self._t_last - self._t0 if self._t0 is not None and self._t_last is not None else None
        budget = plan.get("budget_seconds") or 0.0
        if budget > 0 and elapsed is not None:
            shares.append(elapsed / budget)
            lefts.append(max(0.0, budget - elapsed))
        if epoch and plan.get("enas_epochs"):
            shares.append(epoch / plan["enas_epochs"])
            if elapsed is not None:
                lefts.append(elapsed / epoch * max(0, plan["enas_epochs"] - epoch))
        if iteration is not None and plan.get("max_iterations"):
            shares.append((iteration + 1) / (plan["max_iterations"] + 1))  # iteration 0 is the initial network
        if shares:
            self.fraction = min(1.0, max(shares))
            self.seconds_left = min(lefts) if lefts else None

    def _retraining_progress(self, epoch: int) -> None:
        plan = self.plan
        if not plan or not plan.get("final_epochs"):
            return
        self.phase = "retraining"
        if self._t_last is not None:
            self._final_t.append(self._t_last)
        total = plan["final_epochs"] * plan["final_runs"]
        done = min(total, (max(1, self.final_runs) - 1) * plan["final_epochs"] + epoch)
        self.fraction = done / total
        if len(self._final_t) >= 2:
            per_epoch = (self._final_t[-1] - self._final_t[0]) / (len(self._final_t) - 1)
            self.seconds_left = per_epoch * (total - done)  # at most: early stopping may end a network sooner

    # -- training -------------------------------------------------------------------------
    def _on_JobStarted(self, e: dict) -> None:
        self.status, self.message = "running", "importing PyTorch…" if not e.get("import_seconds") else "loading the data…"

    def _on_Progress(self, e: dict) -> None:
        self.message = f"{e.get('message') or 'working'}: {e['done']}/{e['total'] or '?'}"

    def _on_RunStarted(self, e: dict) -> None:
        self._epochs, self._start_epoch, self._batches = e["epochs"], e["start_epoch"], max(1, e["batches_per_epoch"])
        self.device, self._rate_start = e["device"], None
        self.message = f"training on {e['device']}"

    def _done_batches(self, epoch: int, batch: int) -> int:
        return (epoch - 1 - self._start_epoch) * self._batches + batch

    def _on_BatchProgress(self, e: dict) -> None:
        global_batch = (e["epoch"] - 1) * self._batches + e["batch"]
        self.batch_loss.append(global_batch / self._batches, e["loss"])
        if not self._epochs:
            return
        done = self._done_batches(e["epoch"], e["batch"])
        total = (self._epochs - self._start_epoch) * self._batches
        self.fraction = min(1.0, (self._start_epoch * self._batches + done) / (self._epochs * self._batches))
        t = e.get("t")
        if t is None:
            return
        if self._rate_start is None:
            self._rate_start = (t, done)
        elif done > self._rate_start[1] and t > self._rate_start[0]:
            rate = (done - self._rate_start[1]) / (t - self._rate_start[0])
            self.seconds_left = max(0.0, (total - done) / rate)

    def _on_EpochFinished(self, e: dict) -> None:
        m = e.get("metrics") or {}
        epoch = e["epoch"]
        for series, key in ((self.train_loss, "train_loss"), (self.val_loss, "val_loss"), (self.val_metric, self.monitor)):
            if m.get(key) is not None:
                series.append(epoch, float(m[key]))
        if m.get("images_per_s"):
            self.throughput = float(m["images_per_s"])
        self.message = f"epoch {epoch}/{e['epochs']}"

    def _on_CheckpointSaved(self, e: dict) -> None:
        self.last_checkpoint = f"{e['path']} (epoch {e['epoch']}{', best' if e['best'] else ''})"

    def _on_RunFinished(self, e: dict) -> None:
        self._ended_by_work = True
        self.message = f"finished: {e['reason']}"
        self.seconds_left = 0.0

    def _on_RunCancelled(self, e: dict) -> None:
        self._ended_by_work = True
        self.message = f"cancelled after epoch {e['epoch']}"

    def _on_RunFailed(self, e: dict) -> None:
        self._ended_by_work = True
        self.message = f"failed: {e['reason']}"

    # -- search -------------------------------------------------------------------------------
    def _on_CandidateStarted(self, e: dict) -> None:
        self.candidates[e["candidate_id"]] = Candidate(e["candidate_id"], e.get("parent_id"), e["transformation"],
                                                       e["genotype"], int(e["params"]), int(e["iteration"]))
        self.message = f"iteration {e['iteration']}: training {e['candidate_id']}"

    def _on_CandidateFinished(self, e: dict) -> None:
        c = self.candidates.get(e["candidate_id"])
        if c is None:
            c = self.candidates[e["candidate_id"]] = Candidate(
                e["candidate_id"], e.get("parent_id"), e["transformation"], e["genotype"], int(e["params"]),
                int(e["iteration"]))
        c.accuracy, c.seconds, c.status = float(e["accuracy"]), float(e["seconds"]), "done"
        self._search_progress()

    def _on_CandidateEpoch(self, e: dict) -> None:
        if not str(e["candidate_id"]).startswith("final"):
            return  # a candidate's own epochs: its accuracy reaches the table when it finishes
        epoch = int(e["epoch"])
        if not len(self.final_val_loss) or epoch <= self.final_val_loss.x[-1]:
            self.final_runs += 1  # the next final shape starts over: show the one in progress
            self.final_val_accuracy.clear()
            self.final_val_loss.clear()
        self.final_val_accuracy.append(epoch, float(e["val_accuracy"]))
        self.final_val_loss.append(epoch, float(e["val_loss"]))
        self.message = f"retraining the answer{f' ({self.final_runs})' if self.final_runs > 1 else ''}: epoch {epoch}"
        self._retraining_progress(epoch)

    def _on_EnasEpochFinished(self, e: dict) -> None:
        self.reward.append(e["epoch"], float(e["mean_reward"]))
        self.message = f"ENAS epoch {e['epoch']}: reward {e['mean_reward']:.3f}"
        self._search_progress(epoch=int(e["epoch"]))

    def _on_IterationFinished(self, e: dict) -> None:
        self._search_progress(iteration=int(e["iteration"]))

    def _on_SearchFinished(self, e: dict) -> None:
        self._ended_by_work = True
        self.chosen = e.get("best_genotype") or ""
        self.message = f"search finished ({e.get('stop_reason')})"

    def _on_JobFinished(self, e: dict) -> None:
        self.status, self.summary = e["status"], e.get("summary") or {}
        if not self._ended_by_work:
            self.message = ""  # "loading the data…" is over; the status says how it ended
        if e["status"] == "done":
            self.fraction, self.seconds_left, self.phase = 1.0, 0.0, ""
        if e.get("error"):
            self.message = f"failed: {e['error']}"

    # -- derived ------------------------------------------------------------------------------
    def finished_candidates(self) -> list[Candidate]:
        return [c for c in self.candidates.values() if c.accuracy is not None]

    def scatter(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Parameters, accuracies, Pareto-front indices and the chosen candidate's index (-1 if none yet)."""
        done = self.finished_candidates()
        params = np.array([c.params for c in done], dtype=float)
        acc = np.array([c.accuracy for c in done], dtype=float)
        front = pareto_front(params, acc) if len(done) else np.zeros(0, np.int64)
        chosen = next((i for i, c in enumerate(done) if self.chosen and c.genotype == self.chosen), -1)
        return params, acc, front, chosen

    def tree_rows(self) -> list[tuple[int, Candidate]]:
        """Candidates in search-tree order with their depth: each child under its parent."""
        children: dict = {}
        for c in self.candidates.values():
            children.setdefault(c.parent if c.parent in self.candidates else None, []).append(c)
        rows: list[tuple[int, Candidate]] = []

        def walk(parent, depth) -> None:
            for c in children.get(parent, []):
                rows.append((depth, c))
                walk(c.id, depth + 1)

        walk(None, 0)
        return rows


def format_seconds(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
