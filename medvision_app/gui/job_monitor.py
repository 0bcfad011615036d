"""The job monitor dock: the history's jobs with status, progress and time left, and the selected job live.

Events arrive from :class:`~medvision_app.jobs.process.JobProcess` (jobs
started here) or :class:`~medvision_app.jobs.process.EventTail` (jobs found
running at start, reattached through their run folder). A timer drains them
every :data:`DRAIN_MS` within a time budget, and the views redraw at most every :data:`REDRAW_S`; the list and the
queue refresh every second. The window never waits on a job.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from medvision_app.gui.job_plots import JobViews
from medvision_app.jobs import JobHistory, JobSpec
from medvision_app.jobs.history import JobRecord, pid_alive
from medvision_app.jobs.process import EventTail
from medvision_app.jobs.queue import MAX_PER_DEVICE, JobQueue
from medvision_app.jobs.track import JobTrack, format_seconds, progress_text, search_plan

DRAIN_MS = 50
FEED_BUDGET_S = 0.010  # GUI-thread time per tick for folding events in
FEED_CHUNK = 200
REDRAW_S = 0.25  # curves redraw four times a second at most: a paint of the plots costs 10 to 30 ms here
REFRESH_MS = 1000
COLUMNS = ("ID", "Kind", "Name", "Status", "Progress", "Time left", "Best")
# What an evaluation or an export answered, for the line under the job list.
_RESULT_KEYS = ("accuracy", "auc", "balanced_accuracy", "model", "registered")
MIN_VIEWS_PX = 200  # the curves' least readable height
TABLE_ROWS_PX = 40  # a row of the job list beyond its least size


def target_run(record: JobRecord) -> Path:
    """The run folder an Evaluate or Export acts on: the job's own, or a search's retrained final run."""
    folder = Path(record.run_dir)
    if record.kind != "search":
        return folder
    finals = sorted(p for p in folder.glob("final*") if (p / "config.json").is_file())
    return finals[0] if finals else folder / "final"


def _monitor_of(spec: JobSpec) -> str:
    if spec.kind != "train":
        return "val_accuracy"
    monitor = spec.config.get("train", {}).get("early_stopping", {}).get("monitor", "val_loss")
    return "val_accuracy" if monitor.endswith("loss") else monitor


class JobMonitor(QWidget):
    duplicateRequested = Signal(object)  # the JobSpec to open the wizard with
    jobFinished = Signal(int, str, str)  # job id, status, a one-line summary
    limitsChanged = Signal(dict)  # {"cpu": n, "gpu": n}: jobs at a time per device
    roomWanted = Signal()  # a job was chosen and its curves have too little room: the window may enlarge the dock

    def __init__(self, history: Optional[JobHistory] = None, parent: Optional[QWidget] = None, *,
                 queue: Optional[JobQueue] = None) -> None:
        super().__init__(parent)
        self.history = history or JobHistory()
        self.queue = queue or JobQueue(self.history)
        self.sources: dict = {}  # job id -> JobProcess | EventTail
        self.tracks: dict[int, JobTrack] = {}
        self.records: dict[int, JobRecord] = {}
        self._selected: Optional[int] = None
        self._last_draw = 0.0
        self._redraw_due = False
        self.dashboard = None  # the evaluation dashboard Evaluate opened last

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(COLUMNS.index("Progress"), 130)  # a search's "retraining 100%"
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.views = JobViews()
        self.views.hide()  # empty axes say nothing: the curves appear with the first selected job
        self.info.setText("No job selected: start one with Tools > New training or search…, or pick one above")
        self.buttons = {}
        row = QHBoxLayout()
        for key, text, slot in (("cancel", "Cancel", self.cancel_selected), ("resume", "Resume", self.resume_selected),
                                ("open", "Open run folder", self.open_folder),
                                ("evaluate", "Evaluate", self.evaluate_selected),
                                ("export", "Export and register", self.export_selected),
                                ("duplicate", "Duplicate", self.duplicate_selected)):
            button = QPushButton(text)
            button.clicked.connect(slot)
            row.addWidget(button)
            self.buttons[key] = button
        row.addStretch(1)
        row.addWidget(QLabel("At a time:"))
        self.limits: dict[str, QSpinBox] = {}
        for device, text in (("cpu", "CPU"), ("gpu", "GPU")):
            box = QSpinBox()
            box.setRange(1, MAX_PER_DEVICE)
            box.setValue(self.queue.per_device.get(device, 1))
            box.setPrefix(f"{text} ")
            box.setToolTip(f"How many jobs run at once on the {text}; the others wait in the queue")
            box.valueChanged.connect(self._limit_changed)
            row.addWidget(box)
            self.limits[device] = box
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table)
        top_layout.addLayout(row)
        top_layout.addWidget(self.info)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(top)
        self.split.addWidget(self.views)
        self.split.setSizes([260, 480])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.split)

        self.drain_timer = QTimer(self, interval=DRAIN_MS, timeout=self.drain)
        self.refresh_timer = QTimer(self, interval=REFRESH_MS, timeout=self.refresh)
        self.reattach()
        self.refresh()
        self.drain_timer.start()
        self.refresh_timer.start()

    # -- jobs ---------------------------------------------------------------------------------
    def set_limits(self, limits: dict) -> None:
        """Jobs at a time per device (``{"cpu": n, "gpu": n}``), as restored from the settings."""
        for device, jobs in limits.items():
            box = self.limits.get(device)
            if box is not None:
                box.setValue(int(jobs))  # clamped to the box's range, then applied by _limit_changed

    def _limit_changed(self, *_args) -> None:
        for device, box in self.limits.items():
            self.queue.set_limit(device, box.value())
        self.limitsChanged.emit(dict(self.queue.per_device))
        self.refresh()  # a raised limit starts what was waiting

    def submit(self, spec: JobSpec) -> int:
        """Queue ``spec``; it starts at the next refresh when its device is free (at once here)."""
        job_id = self.queue.submit(spec)
        self.refresh()
        self.select(job_id, reveal=True)
        return job_id

    def reattach(self) -> None:
        """Follow the jobs that run without us (left running by a closed window, or from the CLI)."""
        for record in self.history.list(statuses=("running",)):
            if record.id not in self.sources and pid_alive(record.pid):
                self.sources[record.id] = EventTail(record.spec.events_path, record.pid)

    def _track(self, job_id: int) -> JobTrack:
        track = self.tracks.get(job_id)
        if track is None:
            record = self.records.get(job_id) or self.history.get(job_id)
            plan = search_plan(record.spec.config) if record.kind == "search" else {}
            track = self.tracks[job_id] = JobTrack(monitor=_monitor_of(record.spec), plan=plan)
        return track

    def drain(self) -> None:
        """Fold the events that arrived into their jobs, for at most FEED_BUDGET_S; redraw every REDRAW_S.

        A job can stream tens of thousands of events a second (one per batch
        of a small model on a GPU): what does not fit in the budget waits for
        the next tick, so the window never stalls on a burst. A redraw takes a
        tick of its own: the plots' paint that follows it costs 10 to 30 ms,
        and a full feed before it made the largest stall of the event loop
        the sum of both.
        """
        now = time.perf_counter()
        if self._redraw_due or now - self._last_draw >= REDRAW_S:
            self._redraw_due = False
            self._last_draw = now
            self._show_selected()
            return
        deadline = now + FEED_BUDGET_S
        ended = []
        for job_id, source in list(self.sources.items()):
            done = source.finished  # asked first: the lines it wrote before ending are in the polls below
            track = self._track(job_id)
            drained = False
            while time.perf_counter() < deadline:
                events = source.poll(FEED_CHUNK)  # parsing counts against the budget too
                if events:
                    track.feed(events)
                if len(events) < FEED_CHUNK:
                    drained = True
                    break
            if done and drained:
                ended.append(job_id)
        for job_id in ended:
            self.sources.pop(job_id, None)
            self._on_ended(job_id)
        if ended:
            self._redraw_due = True  # the final figures show at the next tick

    def _on_ended(self, job_id: int) -> None:
        record = self.history.get(job_id)
        track = self._track(job_id)
        summary = track.summary or {}
        text = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()
                         if k in ("accuracy", "auc", "balanced_accuracy", "val_accuracy", "registered", "model"))
        self.jobFinished.emit(job_id, record.status, text or (record.error or ""))
        self.refresh()

    def refresh(self) -> None:
        started = self.queue.tick()
        for proc in started:
            self.sources[proc.job_id] = proc
        records = self.history.list()
        self.records = {r.id: r for r in records}
        self.table.setRowCount(len(records))
        for row, r in enumerate(reversed(records)):  # newest first
            track = self.tracks.get(r.id)
            if track and track.fraction is not None:
                progress = track.progress_text
            else:  # a job this window does not follow: what its process last wrote in the history
                progress = progress_text(r.progress, r.phase)
            left = track.seconds_left if track and r.status == "running" else None
            best = f"{r.best_metric_name} {r.best_metric:.4f}" if r.best_metric is not None else ""
            values = (str(r.id), r.kind, r.name, r.status, progress,
                      format_seconds(left) if r.status == "running" else "", best)
            for col, text in enumerate(values):
                item = self.table.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(row, col, item)
                if item.text() != text:
                    item.setText(text)
                item.setData(Qt.ItemDataRole.UserRole, r.id)
        if self._selected is not None:
            self.select(self._selected, quiet=True)
        self._update_buttons()

    # -- selection and display ------------------------------------------------------------------
    def select(self, job_id: int, *, quiet: bool = False, reveal: bool = False) -> None:
        """Show ``job_id``'s figures; ``reveal`` (a user's choice) also makes room for its curves."""
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == job_id:
                if self.table.currentRow() != row:
                    self.table.blockSignals(quiet)
                    self.table.selectRow(row)
                    self.table.blockSignals(False)
                self._selected = job_id
                break
        self._load_history_events(job_id)
        self._show_selected()
        self._update_buttons()
        if reveal:
            self._reveal()

    def _reveal(self) -> None:
        """Give the curves at least MIN_VIEWS_PX: ask the window for a taller dock, then share it out.

        On a 1366x768 screen the dock starts about 150 px tall, all of it the
        job list: a chosen job's curves were there but squeezed to nothing.
        """
        if self.views.isHidden() or self.views.height() >= MIN_VIEWS_PX:
            return  # an evaluation or an export has no curves; or they have their room
        self.roomWanted.emit()
        QTimer.singleShot(0, self._share_room)  # after the window has laid the taller dock out

    def _share_room(self) -> None:
        total = sum(self.split.sizes())
        if total <= 0:
            return
        top = min(self.split.widget(0).minimumSizeHint().height() + TABLE_ROWS_PX, total - min(MIN_VIEWS_PX, total // 2))
        self.split.setSizes([top, total - top])

    def _on_selection(self) -> None:
        items = self.table.selectedItems()
        if items:
            self.select(items[0].data(Qt.ItemDataRole.UserRole), quiet=True, reveal=True)

    def _load_history_events(self, job_id: int) -> None:
        """A finished job's curves come from its events.jsonl the first time it is shown."""
        if job_id in self.tracks or job_id in self.sources:
            return
        record = self.records.get(job_id)
        if record is not None and record.kind in ("train", "search"):
            self._track(job_id).feed(EventTail(record.spec.events_path).poll())

    def selected(self) -> Optional[JobRecord]:
        return self.records.get(self._selected) if self._selected is not None else None

    def _show_selected(self) -> None:
        record = self.selected()
        if record is None:
            return
        track = self._track(record.id)
        plotted = record.kind in ("train", "search")  # an evaluation or an export has no curves to draw
        self.views.setVisible(plotted)
        if plotted:
            self.views.show_track(track, record.kind)
        parts = [f"<b>{record.name}</b> ({record.kind}, {record.status})"]
        if track.message:
            parts.append(track.message)
        if not plotted and track.summary:
            parts += [f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}"
                      for key, value in track.summary.items() if key in _RESULT_KEYS]
        if track.device or record.ran_on:  # a search's events name no device; its history row does
            parts.append(f"device {track.device or record.ran_on}")
        if track.throughput:
            parts.append(f"{track.throughput:.0f} images/s")
        if track.fraction is not None and record.status == "running":  # a finished job says so already
            parts.append(f"{track.progress_text} done, {format_seconds(track.seconds_left)} left")
        if track.last_checkpoint:
            parts.append(f"last checkpoint {track.last_checkpoint}")
        if record.error:
            parts.append(f"<span style='color:#e74c3c'>{record.error}</span>")
        text = " · ".join(parts)
        if self.info.text() != text:
            self.info.setText(text)

    def _update_buttons(self) -> None:
        record = self.selected()
        status = record.status if record else ""
        self.buttons["cancel"].setEnabled(status in ("running", "queued"))
        self.buttons["resume"].setEnabled(status in ("interrupted", "cancelled", "failed") and
                                          record.kind in ("train", "search"))
        self.buttons["open"].setEnabled(record is not None)
        can_use = record is not None and record.kind in ("train", "search") and status == "done"
        self.buttons["evaluate"].setEnabled(can_use)
        self.buttons["export"].setEnabled(can_use)
        self.buttons["duplicate"].setEnabled(record is not None and record.kind in ("train", "search"))

    # -- actions --------------------------------------------------------------------------------
    def cancel_selected(self) -> None:
        record = self.selected()
        if record is None:
            return
        source = self.sources.get(record.id)
        if source is not None:
            source.cancel()
        elif record.status == "queued":
            self.history.finish(record.id, "cancelled", error="cancelled before it started")
        self.refresh()

    def resume_selected(self) -> None:
        record = self.selected()
        if record is None:
            return
        self.queue.requeue(record.id)
        track = self.tracks.get(record.id)
        if track is not None:
            track.status = "running"
        self.refresh()

    def open_folder(self) -> None:
        record = self.selected()
        if record is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(record.run_dir)))

    def evaluate_selected(self) -> None:
        """The evaluation dashboard of the run (or search) folder; without one, an evaluate job."""
        record = self.selected()
        if record is None:
            return
        opener = _dashboard_opener()
        if opener is not None:
            try:
                self.dashboard = opener(self.window(), record.run_dir)
                return
            except Exception as exc:  # noqa: BLE001 - a folder the dashboard cannot read is evaluated instead
                self.info.setText(f"The dashboard cannot show {record.run_dir} ({exc}); evaluating it")
        run = target_run(record)
        self.submit(JobSpec("evaluate", {"split": "test"}, str(run), name=f"evaluate {run.name}"))

    def export_selected(self) -> None:
        record = self.selected()
        if record is None:
            return
        run = target_run(record)
        name = f"{record.name}-{time.strftime('%Y%m%d-%H%M%S')}" if record.kind == "train" else record.name
        self.submit(JobSpec("export", {"register": True, "name": name}, str(run), name=f"export {run.name}"))

    def duplicate_selected(self) -> None:
        record = self.selected()
        if record is not None:
            self.duplicateRequested.emit(record.spec)

    # -- closing --------------------------------------------------------------------------------
    def live_jobs(self) -> list[int]:
        """Jobs this window runs or follows whose process is alive."""
        return [job_id for job_id, source in self.sources.items() if not source.finished]

    def stop_all(self, grace: float = 10.0) -> None:
        """Stop every live job at its next batch. SIGTERM as well as the message: the window is about to
        go, and with it the threads that would escalate; the job stops on its own from here."""
        for job_id in self.live_jobs():
            source = self.sources[job_id]
            source.cancel(grace)
            try:
                os.kill(source.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def detach_all(self) -> None:
        self.drain_timer.stop()
        self.refresh_timer.stop()
        for source in self.sources.values():
            source.detach()
        self.sources.clear()


def _dashboard_opener():
    """The evaluation dashboard's entry point (gui/dashboard.py), or None where it is not installed."""
    try:
        from medvision_app.gui.dashboard import open_dashboard
    except ImportError:
        return None
    return open_dashboard
