"""The evaluation dashboard shows the core's numbers and updates the operating point live."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

pytest.importorskip("PySide6")

from medvision_app.evaluation.threshold_store import OPERATING_POINT  # noqa: E402
from medvision_app.gui.dashboard import EvaluationDashboard  # noqa: E402
from tests.report_support import fixed_predictions, make_run  # noqa: E402


@pytest.fixture
def dashboard(qtbot, tmp_path):
    run = make_run(tmp_path / "run-a")
    widget = EvaluationDashboard(run, n_resamples=60)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.analysed, timeout=60_000):
        pass
    return widget


def test_dashboard_table_and_confusion_match_sklearn(dashboard):
    y, p = fixed_predictions()
    a = dashboard.analysis
    np.testing.assert_array_equal(a.confusion, skm.confusion_matrix(y, p.argmax(1)))
    recall = skm.recall_score(y, p.argmax(1), average=None)
    assert dashboard.table.rowCount() == 2
    assert dashboard.table.item(0, 1).text().startswith(f"{recall[0]:.3f} (")
    auc = skm.roc_auc_score(y == 0, p[:, 0])
    assert dashboard.table.item(0, 6).text().startswith(f"{auc:.3f}")
    assert a.roc[0].area == pytest.approx(auc) and a.roc[0].area_low < auc < a.roc[0].area_high
    assert "intervals" in dashboard.status.text()
    titles = [dashboard.tabs.tabText(i) for i in range(dashboard.tabs.count())]
    assert titles[:3] == ["Confusion && metrics", "ROC && PR", "Calibration"] and "Compare runs" in titles


def test_slider_updates_rates_and_mistakes_live(dashboard, tmp_path, qtbot):
    y, p = fixed_predictions()
    dashboard.operating.set_threshold(0.3)
    pred = np.where(p[:, 0] >= 0.3, 0, 1)
    sens = skm.recall_score(y == 0, pred == 0)
    spec = skm.recall_score(y != 0, pred != 0)
    assert f"sensitivity {sens:.3f}" in dashboard.operating.rates.text()
    assert f"specificity {spec:.3f}" in dashboard.operating.rates.text()
    assert dashboard.gallery.list.count() == int((pred != y).sum())
    # once the slider rests, the per-class table follows the threshold too
    qtbot.waitUntil(lambda: "threshold 0.30" in dashboard.table_caption.text(), timeout=60_000)
    assert dashboard.table.item(0, 1).text().startswith(f"{sens:.3f} (")
    assert dashboard.table.item(0, 2).text().startswith(f"{spec:.3f} (")
    first = dashboard.gallery.list.item(0).data(0x0100)
    wrong = np.flatnonzero(pred != y)
    assert first["confidence"] == pytest.approx(p[wrong, pred[wrong]].max(), abs=1e-6)
    dashboard.operating.save_button.click()
    saved = json.loads((dashboard.run.run_dir / OPERATING_POINT).read_text())
    assert saved["threshold"] == pytest.approx(0.3) and saved["class"] == "malignant"
    assert "export the run" in dashboard.operating.save_message.text()


def test_compare_two_runs(dashboard, tmp_path, qtbot):
    other = make_run(tmp_path / "run-b", seed=0)
    # same samples and labels, a noisier model
    import csv

    rows = list(csv.reader((other / "predictions.csv").open()))
    rng = np.random.default_rng(9)
    for row in rows[1:]:
        a = min(max(float(row[3]) + rng.normal(0, 0.3), 0.0), 1.0)
        row[3], row[4] = f"{a:.6f}", f"{1 - a:.6f}"
    with (other / "predictions.csv").open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    dashboard.add_comparison(other)
    qtbot.waitUntil(lambda: dashboard.compare_table.rowCount() == 2, timeout=60_000)
    test = dashboard.comparison["tests"][0]
    assert test["n"] == 160
    assert "DeLong" in dashboard.compare_tests.text() and "paired bootstrap" in dashboard.compare_tests.text()


def test_gallery_click_asks_the_viewer_for_an_npz_sample(tmp_path, qtbot):
    npz = tmp_path / "tiny.npz"
    images = (np.arange(160 * 28 * 28) % 251).astype(np.uint8).reshape(160, 28, 28)
    np.savez(npz, test_images=images)
    run = make_run(tmp_path / "run-c")
    config = json.loads((run / "config.json").read_text())
    config["data"]["path"] = str(npz)
    (run / "config.json").write_text(json.dumps(config))
    widget = EvaluationDashboard(run, n_resamples=30)
    qtbot.addWidget(widget)
    qtbot.waitUntil(lambda: widget.analysis is not None, timeout=60_000)
    item = widget.gallery.list.item(0)
    assert not item.icon().isNull()
    with qtbot.waitSignal(widget.openImageRequested) as blocker:
        widget.gallery.list.itemClicked.emit(item)
    path = blocker.args[0]
    from PIL import Image

    record = item.data(0x0100)
    index = int(record["id"].split("_")[1])
    np.testing.assert_array_equal(np.asarray(Image.open(path)), images[index])


def test_bad_folder_names_the_problem(tmp_path, qtbot):
    from medvision_app.evaluation.run_folder import RunFolderError

    with pytest.raises(RunFolderError, match="no such run folder"):
        EvaluationDashboard(tmp_path / "nothing")


def test_search_folder_opens_on_its_tree_and_pareto(tmp_path, qtbot):
    from tests.report_support import make_search

    widget = EvaluationDashboard(make_search(tmp_path / "search"), n_resamples=30)
    qtbot.addWidget(widget)
    assert widget.tabs.tabText(0) == "Search"
    assert "C32-SE-P" in widget.search_label.text() and "6 candidates" in widget.search_label.text()
    qtbot.waitUntil(lambda: widget.analysis is not None, timeout=60_000)
    assert widget.run.run_dir.name == "final"
