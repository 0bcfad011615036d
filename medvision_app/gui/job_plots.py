"""The monitor's plots: curves that redraw only when their series moved, downsampled by pyqtgraph for display."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget

from medvision_app.jobs.track import JobTrack, Series, format_seconds


def _curve(plot: pg.PlotItem, name: str, color: str, *, symbol=None, width: float = 2.0) -> pg.PlotDataItem:
    item = plot.plot([], [], name=name, pen=pg.mkPen(color, width=width), symbol=symbol, symbolSize=6,
                     symbolBrush=color if symbol else None)
    # Tens of thousands of batch points: draw about one per pixel (peak keeps spikes), only what is in view.
    item.setDownsampling(auto=True, method="peak")
    item.setClipToView(True)
    return item


class _Bound:
    """A curve and the series it shows; redraws when the series' version changed, never per event."""

    def __init__(self, item: pg.PlotDataItem, getter) -> None:
        self.item, self.getter, self.version = item, getter, -1

    def sync(self, track: JobTrack) -> None:
        series: Series = self.getter(track)
        if series.version != self.version:
            self.version = series.version
            self.item.setData(series.x, series.y)

    def reset(self) -> None:
        self.version = -1
        self.item.setData([], [])


class TrainingPlots(pg.GraphicsLayoutWidget):
    """Loss (batch loss, epoch train and validation loss) over epochs, and the monitored metric."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.loss = self.addPlot(row=0, col=0, title="Loss")
        self.loss.addLegend(offset=(-10, 10))
        self.loss.setLabel("bottom", "epoch")
        self.metric = self.addPlot(row=1, col=0, title="Validation metric")
        self.metric.setLabel("bottom", "epoch")
        self.metric.addLegend(offset=(-10, 10))
        self.bound = [
            _Bound(_curve(self.loss, "batch", "#7f8c8d", width=1.0), lambda t: t.batch_loss),
            _Bound(_curve(self.loss, "train", "#3498db", symbol="o"), lambda t: t.train_loss),
            _Bound(_curve(self.loss, "validation", "#e67e22", symbol="o"), lambda t: t.val_loss),
            _Bound(_curve(self.metric, "validation", "#2ecc71", symbol="o"), lambda t: t.val_metric),
        ]

    def show_track(self, track: JobTrack, *, fresh: bool) -> None:
        if fresh:
            for b in self.bound:
                b.reset()
            self.metric.setTitle(f"Validation metric ({track.monitor})")
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
        plot.setLabel("bottom", "parameters")
        plot.setLabel("left", "validation accuracy")
        plot.setLogMode(x=True, y=False)
        plot.addLegend(offset=(-10, 10))
        self.points = pg.ScatterPlotItem(size=8, brush=pg.mkBrush(52, 152, 219, 160), name="candidates")
        self.front = plot.plot([], [], pen=pg.mkPen("#e67e22", width=2), name="Pareto front")
        self.chosen = pg.ScatterPlotItem(size=16, symbol="star", brush=pg.mkBrush("#f1c40f"), name="chosen")
        plot.addItem(self.points)
        plot.addItem(self.chosen)
        self.reward_widget = pg.PlotWidget(title="ENAS controller reward")
        self.reward_widget.getPlotItem().setLabel("bottom", "epoch")
        self.reward = _Bound(_curve(self.reward_widget.getPlotItem(), "mean reward", "#9b59b6", symbol="o"),
                             lambda t: t.reward)
        self.addTab(self.table, "Candidates")
        self.addTab(self.scatter_widget, "Pareto")
        self.addTab(self.tree, "Tree")
        self.addTab(self.reward_widget, "Reward")
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
            self._shown = (-1, -1)
        self.reward.sync(track)
        key = (len(track.candidates), len(track.finished_candidates()) * 2 + bool(track.chosen))
        if key == self._shown:
            return  # candidates change a few times a minute: rebuild the tables only then
        self._shown = key
        self._fill_table(track)
        self._fill_tree(track)
        params, acc, front, chosen = track.scatter()
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
    """The selected job's plots: training curves for a training, search views (and the final retraining) for a search."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.training = TrainingPlots()
        self.search = SearchViews()
        self.tabs.addTab(self.training, "Curves")
        self.tabs.addTab(self.search, "Search")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)
        self._track = None

    def show_track(self, track: JobTrack, kind: str) -> None:
        fresh = track is not self._track
        if fresh:
            self._track = track
            self.tabs.setTabEnabled(1, kind == "search")
            self.tabs.setCurrentIndex(1 if kind == "search" else 0)
        self.training.show_track(track, fresh=fresh)
        if kind == "search":
            self.search.show_track(track, fresh=fresh)
