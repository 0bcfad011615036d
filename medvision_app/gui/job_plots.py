"""The monitor's plots: curves that redraw only when their series moved, downsampled by pyqtgraph for display."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget

from medvision_app.jobs.track import JobTrack, Series, decimate, format_seconds


def _curve(plot: pg.PlotItem, name: str, color: str, *, symbol=None, width: float = 2.0) -> pg.PlotDataItem:
    item = plot.plot([], [], name=name, pen=pg.mkPen(color, width=width), symbol=symbol, symbolSize=6,
                     symbolBrush=color if symbol else None)
    # Tens of thousands of batch points reach the item already decimated (track.decimate): fast to paint.
    return item


class _Bound:
    """A curve and the series it shows; redraws when the series' version changed, never per event."""

    def __init__(self, item: pg.PlotDataItem, getter) -> None:
        self.item, self.getter, self.version = item, getter, -1

    def sync(self, track: JobTrack) -> None:
        series: Series = self.getter(track)
        if series.version != self.version:
            self.version = series.version
            self.item.setData(*decimate(series.x, series.y))

    def reset(self) -> None:
        self.version = -1
        self.item.setData([], [])


class TrainingPlots(QWidget):
    """Loss (batch loss, epoch train and validation loss) over epochs, and the monitored metric.

    The plots are ``loss_plot`` and ``metric_plot``: an attribute named
    ``metric`` shadows QPaintDevice.metric(), which Qt then calls as a
    Python override, and crashes.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.loss_widget, self.metric_widget = pg.PlotWidget(title="Loss"), pg.PlotWidget(title="Validation metric")
        self.loss_plot, self.metric_plot = self.loss_widget.getPlotItem(), self.metric_widget.getPlotItem()
        for plot in (self.loss_plot, self.metric_plot):
            plot.setLabel("bottom", "epoch")
            plot.addLegend(offset=(-10, 10))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_widget, 3)
        layout.addWidget(self.metric_widget, 2)
        self.bound = [
            _Bound(_curve(self.loss_plot, "batch", "#7f8c8d", width=1.0), lambda t: t.batch_loss),
            _Bound(_curve(self.loss_plot, "train", "#3498db", symbol="o"), lambda t: t.train_loss),
            _Bound(_curve(self.loss_plot, "validation", "#e67e22", symbol="o"), lambda t: t.val_loss),
            _Bound(_curve(self.metric_plot, "validation", "#2ecc71", symbol="o"), lambda t: t.val_metric),
        ]

    def show_track(self, track: JobTrack, *, fresh: bool) -> None:
        if fresh:
            for b in self.bound:
                b.reset()
            self.metric_plot.setTitle(f"Validation metric ({track.monitor})")
        for b in self.bound:
            b.sync(track)


class SearchViews(QTabWidget):
    """Candidate table, search tree, accuracy-versus-parameters with its Pareto front, ENAS reward."""

    COLUMNS = ("id", "parent", "transformation", "parameters", "val accuracy", "time", "status")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.table = self._table(self.COLUMNS)
        self.tree = self._table(("candidate", "transformation", "parameters", "val accuracy"))
        self.scatter_widget = pg.PlotWidget(title="Validation accuracy vs parameters")
        plot = self.scatter_widget.getPlotItem()
        # Linear thousands: a ScatterPlotItem added to a log-x plot is not transformed, the front line is.
        plot.setLabel("bottom", "parameters (thousands)")
        plot.setLabel("left", "validation accuracy")
        for side in ("left", "bottom"):
            plot.getAxis(side).enableAutoSIPrefix(False)  # else accuracies below 1 read "600 (x0.001)"
        plot.addLegend(offset=(-10, 10))
        self.points = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(52, 152, 219, 160), name="candidates")
        self.front = plot.plot([], [], pen=pg.mkPen("#e67e22", width=2), name="Pareto front", symbol="o",
                               symbolSize=10, symbolBrush=None, symbolPen=pg.mkPen("#e67e22", width=2))
        self.chosen = pg.ScatterPlotItem(size=16, symbol="star", brush=pg.mkBrush("#f1c40f"), name="chosen")
        plot.addItem(self.points)
        plot.addItem(self.chosen)
        self.reward_widget = pg.PlotWidget(title="ENAS controller reward")
        self.reward_widget.getPlotItem().setLabel("bottom", "epoch")
        self.reward = _Bound(_curve(self.reward_widget.getPlotItem(), "mean reward", "#9b59b6", symbol="o"),
                             lambda t: t.reward)
        # The table and the scatter side by side: a candidate's row and its point are read together.
        both = QSplitter(Qt.Orientation.Horizontal)
        both.addWidget(self.table)
        both.addWidget(self.scatter_widget)
        both.setSizes([520, 480])
        # the chosen network retrained in full before its test evaluation
        self.final_widget = pg.PlotWidget(title="Retraining of the answer (validation)")
        final_plot = self.final_widget.getPlotItem()
        final_plot.setLabel("bottom", "epoch")
        final_plot.addLegend(offset=(-10, 10))
        self.final = [
            _Bound(_curve(final_plot, "accuracy", "#2ecc71", symbol="o"), lambda t: t.final_val_accuracy),
            _Bound(_curve(final_plot, "loss", "#e67e22", symbol="o"), lambda t: t.final_val_loss),
        ]
        self.addTab(both, "Candidates and Pareto front")
        self.addTab(self.tree, "Tree")
        self.addTab(self.reward_widget, "Reward")
        self.addTab(self.final_widget, "Final retraining")
        self._shown = (-1, -1)

    @staticmethod
    def _table(columns) -> QTableWidget:
        table = QTableWidget(0, len(columns))
        table.setHorizontalHeaderLabels(list(columns))
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setStretchLastSection(True)
        return table

    def show_track(self, track: JobTrack, *, fresh: bool) -> None:
        if fresh:
            self.reward.reset()
            for bound in self.final:
                bound.reset()
            self._shown = (-1, -1)
        self.reward.sync(track)
        for bound in self.final:
            bound.sync(track)
        key = (len(track.candidates), len(track.finished_candidates()) * 2 + bool(track.chosen))
        if key == self._shown:
            return  # candidates change a few times a minute: rebuild the tables only then
        self._shown = key
        self._fill_table(track)
        self._fill_tree(track)
        params, acc, front, chosen = track.scatter()
        params = params / 1e3
        self.points.setData(params, acc)
        self.front.setData(params[front], acc[front]) if len(front) else self.front.setData([], [])
        self.chosen.setData(params[[chosen]], acc[[chosen]]) if chosen >= 0 else self.chosen.setData([], [])

    def _fill_table(self, track: JobTrack) -> None:
        rows = list(track.candidates.values())
        self.table.setRowCount(len(rows))
        for r, c in enumerate(rows):
            values = (c.id, c.parent or "-", c.transformation, f"{c.params:,}",
                      "-" if c.accuracy is None else f"{c.accuracy:.4f}", format_seconds(c.seconds), c.status)
            for col, text in enumerate(values):
                self.table.setItem(r, col, QTableWidgetItem(text))

    def _fill_tree(self, track: JobTrack) -> None:
        rows = track.tree_rows()
        self.tree.setRowCount(len(rows))
        for r, (depth, c) in enumerate(rows):
            values = ("    " * depth + ("└ " if depth else "") + c.id, c.transformation, f"{c.params:,}",
                      "-" if c.accuracy is None else f"{c.accuracy:.4f}")
            for col, text in enumerate(values):
                self.tree.setItem(r, col, QTableWidgetItem(text))


class JobViews(QWidget):
    """The selected job's plots: training curves for a training, the search views for a search.

    One of the two is shown, by the job's kind.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.training = TrainingPlots()
        self.search = SearchViews()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.training)
        layout.addWidget(self.search)
        self.search.hide()
        self._track = None
        self.kind = "train"

    def show_track(self, track: JobTrack, kind: str) -> None:
        fresh = track is not self._track
        if fresh:
            self._track = track
            self.kind = kind
            self.training.setVisible(kind != "search")
            self.search.setVisible(kind == "search")
        self.training.show_track(track, fresh=fresh)
        if kind == "search":
            self.search.show_track(track, fresh=fresh)
