"""The training wizard and the job monitor, driven as a user would (pytest-qt, offscreen).

Each job is tiny (BreastMNIST limited to 48 images per split, P-NET with a
16-unit head at 28 px, one CPU thread); most of the wait is the child's
torch import.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QWizard

from medvision_app.gui import wizard_pages
from medvision_app.gui.jobs_integration import open_wizard
from medvision_app.gui.training_wizard import DATA, MODEL, PREP, SUMMARY, TASK, TrainingWizard
from medvision_app.jobs import JobHistory, JobSpec
from medvision_app.jobs.presets import PRESETS, preset
from medvision_app.jobs.probe import inspect_data
from medvision_app.training.config import TrainConfig
from medvision_app.utils.config_io import load_config, to_dict
from tests.jobs_support import tiny_npz, tiny_search_config, tiny_train_config

LONG = 240_000  # ms: a child's torch import takes 4 to 8 s alone, far more on a loaded machine


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tmp_path / "home"


def _window(qtbot, tmp_path):
    from medvision_app.gui.main_window import MainWindow

    window = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    # Closing with a job still winding down would ask, modally: the tests answer for the user.
    window.ask_about_running_jobs = lambda n: "stop"
    return window


def _set(editor, value) -> None:
    if hasattr(editor, "setValue"):
        editor.setValue(value)
    elif hasattr(editor, "setCurrentText"):
        editor.setCurrentText(str(value))
    else:
        editor.setText(str(value))
        editor.editingFinished.emit()


def _points(bound) -> int:
    x = bound.item.xData
    return 0 if x is None else len(x)


def _next_enabled(wizard) -> bool:
    return wizard.button(QWizard.WizardButton.NextButton).isEnabled()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wizard_to_launch_on_breastmnist_and_the_monitor_plots_it(qtbot, home, tmp_path, shared_data):
    data = shared_data / "breastmnist" / "breastmnist.npz"
    window = _window(qtbot, tmp_path)
    window.act_new_job.trigger()  # Tools > New training or search…
    wizard = window.wizard
    assert wizard.currentId() == TASK and wizard.task_page.train.isChecked()
    wizard.next()
    assert wizard.currentId() == DATA
    page = wizard.data_page
    page.path.setText(str(data))
    page.limit.setValue(48)
    qtbot.waitUntil(lambda: page.result is not None, timeout=LONG)
    assert page.result["classes"] == ["malignant", "normal, benign"] and page.result["counts"] == [210, 570]
    assert page.classes.rowCount() == 2 and page.thumb_grid.count() >= 2 * 4
    assert sum(page.result["splits"]["train"]) == 48 and _next_enabled(wizard)
    wizard.next()
    assert wizard.currentId() == PREP
    qtbot.waitUntil(lambda: wizard.prep_page.augmentation.source is not None, timeout=10_000)
    wizard.next()
    assert wizard.currentId() == MODEL
    model, train = wizard.model_page.forms["model"], wizard.model_page.forms["train"]
    for key, value in (("input_size", 28), ("in_channels", 1), ("dense_units", 16)):
        _set(model.editors[key], value)
    for key, value in (("epochs", 2), ("batch_size", 16), ("cpu_threads", 1), ("progress_every", 1),
                       ("device", "cpu")):
        _set(train.editors[key], value)
    qtbot.waitUntil(lambda: wizard.model_page.estimate is not None, timeout=LONG)
    assert "parameters" in wizard.model_page.size.text() and _next_enabled(wizard)
    wizard.next()
    assert wizard.currentId() == SUMMARY
    assert "per epoch" in wizard.summary_page.device.text()
    run = tmp_path / "run"
    wizard.summary_page.out.setText(str(run))
    saved = tmp_path / "wizard.toml"
    wizard.summary_page.save_toml(saved)

    # the TOML is what `medvision train --config` takes, and a config file loads back into the wizard unchanged
    from medvision_app.cli.train_cmds import _load_config

    cli_config = _load_config(saved, [])
    assert to_dict(cli_config) == {**to_dict(wizard.train_cfg), "run": to_dict(TrainConfig().run)}
    assert cli_config.model.input_size == 28 and cli_config.train.epochs == 2 and cli_config.data.limit == 48

    assert wizard.button(QWizard.WizardButton.FinishButton).text() == "Launch"
    wizard.accept()  # Launch
    monitor = window.job_monitor
    job_id = monitor.history.list()[-1].id
    qtbot.waitUntil(lambda: monitor.history.get(job_id).status in ("done", "failed"), timeout=LONG)
    qtbot.waitUntil(lambda: job_id not in monitor.sources, timeout=10_000)
    record = monitor.history.get(job_id)
    assert record.status == "done", record.error
    monitor.select(job_id)
    curves = monitor.views.training.bound
    qtbot.waitUntil(lambda: _points(curves[1]) == 2, timeout=10_000)  # train loss per epoch
    assert _points(curves[0]) >= 2 * 3  # batch losses: 3 batches of 16 per epoch
    assert _points(curves[3]) == 2  # the validation metric per epoch
    assert (run / "eval.json").is_file() and record.best_metric is not None

    # Evaluate opens the evaluation dashboard on the run; Export and register puts the model in the registry
    monitor.buttons["evaluate"].click()
    assert monitor.dashboard is not None and monitor.dashboard.isVisible()
    monitor.dashboard.close()
    monitor.buttons["export"].click()
    export_id = monitor.history.list()[-1].id
    assert monitor.history.get(export_id).kind == "export"
    qtbot.waitUntil(lambda: monitor.history.get(export_id).status in ("done", "failed"), timeout=LONG)
    assert monitor.history.get(export_id).status == "done", monitor.history.get(export_id).error
    from medvision_app.inference.registry import ModelRegistry

    user_models = [e for e in ModelRegistry().list() if e.location == "user"]
    assert len(user_models) == 1 and user_models[0].card is not None, user_models
    monitor.select(job_id)

    # round trip the other way: a config file into the wizard, and out as the same TOML
    again = open_wizard(window, wait=True)
    assert again.task_page.load_file(str(saved))
    assert to_dict(again.train_cfg) == to_dict(load_config(TrainConfig, saved))
    again.reject()
    # Duplicate opens the wizard pre-filled with the job's config
    monitor.duplicate_selected()
    assert window.wizard.train_cfg.model.input_size == 28 and window.wizard.kind == "train"
    window.wizard.reject()


def _image(path: Path, value: int = 120) -> None:
    from PIL import Image

    Image.fromarray(np.full((16, 16), value, np.uint8)).save(path)


@pytest.mark.timeout(300)
def test_every_wizard_page_refuses_bad_input_with_a_reason(qtbot, home, tmp_path, monkeypatch):
    # The data probe runs in this process here (its child-process path is the test above).
    monkeypatch.setattr(wizard_pages, "probe_in_child",
                        lambda kind, payload, **_: inspect_data(payload["data"], payload.get("config_file")))
    window = _window(qtbot, tmp_path)
    wizard = open_wizard(window, wait=True)
    # task: a file that is not a config
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nepochs = 'many'\n")
    assert not wizard.task_page.load_file(str(bad))
    assert "epochs" in wizard.task_page.error.text()
    assert not wizard.task_page.load_file(str(tmp_path / "missing.toml"))
    assert "missing.toml" in wizard.task_page.error.text()
    wizard.next()

    # data: one image in a class, an unreadable image, then a single class, then ratios that do not add up
    root = tmp_path / "data"
    for name, count in (("a", 1), ("b", 2)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            _image(root / name / f"{i}.png")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    page = wizard.data_page
    page.path.setText(str(root))
    qtbot.waitUntil(lambda: page.result is not None, timeout=30_000)
    text = page.problems.text()
    assert "'a' has 1 image(s)" in text and "broken.png: unreadable image" in text
    assert not _next_enabled(wizard)
    single = tmp_path / "single"
    (single / "only").mkdir(parents=True)
    _image(single / "only" / "0.png")
    page.path.setText(str(single))
    qtbot.waitUntil(lambda: page.result is not None, timeout=30_000)
    assert "at least two" in page.problems.text() and not _next_enabled(wizard)
    (root / "b" / "broken.png").unlink()
    _image(root / "a" / "1.png")
    _image(root / "b" / "2.png")
    page.path.setText(str(root))
    page.ratios[0].setValue(0.9)  # 0.9 + 0.1 + 0.05
    qtbot.waitUntil(lambda: page.result is not None, timeout=30_000)
    assert "must add up to 1" in page.problems.text() and not _next_enabled(wizard)
    page.ratios[0].setValue(0.5)
    page.ratios[1].setValue(0.25)
    page.ratios[2].setValue(0.25)
    qtbot.waitUntil(lambda: page.result is not None and page.isComplete(), timeout=30_000)
    wizard.next()

    # preprocessing and augmentation: an invalid probability is not applied, and says why
    aug = wizard.prep_page.augmentation
    aug.form.editors["invert"].setText("3")
    aug.form.editors["invert"].editingFinished.emit()
    assert "invert" in aug.status.text() and aug.config.invert != 3
    wizard.next()

    # model and training: a learning rate of 0 is flagged inline and blocks Next
    monkeypatch.setattr(wizard.model_page, "ask_estimate", lambda: None)
    lr = wizard.model_page.forms["train"].editors["lr"]
    _set(lr, "0")
    assert "lr" in wizard.model_page.errors.text() and lr.styleSheet() and not _next_enabled(wizard)
    _set(lr, "0.001")
    assert not wizard.model_page.errors.text()
    wizard.model_page.estimate = {"params": 1, "macs": 1}
    wizard.model_page.completeChanged.emit()
    wizard.next()

    # summary: a folder that already holds a run
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "config.json").write_text("{}")
    wizard.summary_page.out.setText(str(taken))
    assert "already holds a run" in wizard.summary_page.error.text()
    assert not wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    wizard.summary_page.out.setText(str(tmp_path / "fresh"))
    assert wizard.button(QWizard.WizardButton.FinishButton).isEnabled()
    wizard.reject()


FINAL_EPOCHS = 3


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_reattach_after_restart_then_cancel_and_a_live_search(qtbot, home, tmp_path, shared_data):
    data = shared_data / "breastmnist" / "breastmnist.npz"
    window = _window(qtbot, tmp_path)
    monitor = window.job_monitor
    job_id = monitor.submit(JobSpec("train", tiny_train_config(data, epochs=400), str(tmp_path / "long")))
    qtbot.waitUntil(lambda: monitor._track(job_id).batch_loss.n >= 3, timeout=LONG)
    pid = monitor.history.get(job_id).pid
    window.ask_about_running_jobs = lambda n: "leave"
    window.close()

    # a new window finds it running, follows it through its run folder, and cancels it from the button
    window = _window(qtbot, tmp_path)
    monitor = window.job_monitor
    assert job_id in monitor.sources and monitor.sources[job_id].pid == pid
    monitor.select(job_id)
    qtbot.waitUntil(lambda: monitor._track(job_id).batch_loss.n >= 3, timeout=10_000)  # replayed history
    assert monitor.buttons["cancel"].isEnabled()
    monitor.buttons["cancel"].click()
    qtbot.waitUntil(lambda: monitor.history.get(job_id).status == "cancelled", timeout=60_000)
    qtbot.waitUntil(lambda: monitor.table.item(0, 3).text() == "cancelled", timeout=5_000)
    assert monitor.buttons["resume"].isEnabled()

    # a search shows its candidates while it runs, and its Pareto plot. On 12-pixel images the whole search took
    # 0.4 s, less than a redraw and a history poll, so "the table filled while it ran" was a race a loaded CI lost;
    # BreastMNIST and a three-epoch retraining leave seconds of work after the first candidate's row.
    config = tiny_search_config(data)
    config["final"]["epochs"] = FINAL_EPOCHS
    search = monitor.submit(JobSpec("search", config, str(tmp_path / "search")))
    monitor.select(search)
    table = monitor.views.search.table
    qtbot.waitUntil(lambda: table.rowCount() >= 1, timeout=LONG)
    assert monitor.views.search.isVisibleTo(monitor) and not monitor.views.training.isVisibleTo(monitor)
    live = monitor.history.get(search).status == "running"
    qtbot.waitUntil(lambda: monitor.history.get(search).status in ("done", "failed"), timeout=LONG)
    assert live, "the candidate table filled only after the search had ended"
    assert monitor.history.get(search).status == "done", monitor.history.get(search).error
    qtbot.waitUntil(lambda: len(monitor.views.search.points.data) >= 2, timeout=10_000)
    assert table.item(0, 4).text() != "-"
    # the answer's retraining has its own curve, a point an epoch
    qtbot.waitUntil(lambda: _points(monitor.views.search.final[0]) == FINAL_EPOCHS, timeout=10_000)
    assert not monitor.views.search.scatter_widget.getPlotItem().getAxis("left").autoSIPrefix  # 0.6, not 600 x0.001
    row = next(r for r in range(monitor.table.rowCount()) if monitor.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == search)
    qtbot.waitUntil(lambda: monitor.table.item(row, 4).text() == "100%", timeout=10_000)  # after search, retraining
    kinds = {(r["kind"], r["status"]) for r in json.loads(json.dumps([r.to_dict() for r in JobHistory().list()]))}
    assert {("train", "cancelled"), ("search", "done")} <= kinds


def test_first_wizard_waits_for_its_imports_on_a_worker(qtbot, home, tmp_path, monkeypatch):
    import sys

    from medvision_app.gui import jobs_integration

    # A module this process has not imported stands in for the configs' torch-laden packages.
    monkeypatch.delitem(sys.modules, "tabnanny", raising=False)
    monkeypatch.setattr(jobs_integration, "_HEAVY", ("tabnanny",))
    window = _window(qtbot, tmp_path)
    window.wizard = None
    window.act_new_job.trigger()
    assert window.wizard is None and "Preparing the training wizard" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.wizard is not None, timeout=30_000)
    assert window.wizard.isVisible() and not window.statusBar().currentMessage()
    window.wizard.reject()



@pytest.mark.timeout(300)
def test_data_page_groups_a_csv_split_by_the_chosen_column(qtbot, home, tmp_path, monkeypatch):
    monkeypatch.setattr(wizard_pages, "probe_in_child",
                        lambda kind, payload, **_: inspect_data(payload["data"], payload.get("config_file")))
    rows = ["path,label,subject,age"]
    for i in range(24):
        _image(tmp_path / f"{i}.png", 40 + i)
        rows.append(f"{i}.png,{'ab'[i % 2]},s{i // 4},{50 + i}")  # six subjects of four images each
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    window = _window(qtbot, tmp_path)
    wizard = open_wizard(window, wait=True)
    wizard.next()
    page = wizard.data_page
    page.path.setText(str(manifest))
    qtbot.waitUntil(lambda: page.result is not None and page.group.isEnabled(), timeout=30_000)
    choices = [page.group.itemText(i) for i in range(page.group.count())]
    assert choices == [wizard_pages.AUTO_GROUP, "subject", "age"]  # path, label and split are not IDs
    assert "not grouped" in page.status.text()
    for box, value in zip(page.ratios, (0.5, 0.25, 0.25), strict=True):
        box.setValue(value)
    page.group.setCurrentIndex(page.group.findData("subject"))
    qtbot.waitUntil(lambda: page.result is not None and "grouped by subject" in page.status.text(), timeout=30_000)
    assert page.isComplete() and page.data_config().group_column == "subject"
    # the split the run will use keeps each subject's images together
    from medvision_app.data import read_source, split_table

    config = page.data_config()
    parts = split_table(read_source(config, manifest), config)
    owners = {}
    for name, part in parts.items():
        for image_id in part.ids:
            owners.setdefault(f"s{int(image_id.split('.')[0]) // 4}", set()).add(name)
    assert all(len(sides) == 1 for sides in owners.values()), owners
    wizard.next()
    assert wizard.train_cfg.data.group_column == "subject"
    wizard.reject()


def test_a_group_column_the_manifest_lacks_is_refused_by_name(tmp_path):
    from medvision_app.data import DataConfig, DataError, read_source

    _image(tmp_path / "0.png")
    _image(tmp_path / "1.png")
    (tmp_path / "m.csv").write_text("path,label,patient\n0.png,a,p1\n1.png,b,p2\n")
    with pytest.raises(DataError, match=r"m.csv: no column 'patient_id' to group the split by; found path, label, patient"):
        read_source(DataConfig(path=str(tmp_path / "m.csv"), group_column="patient_id"), tmp_path / "m.csv")
    table = read_source(DataConfig(path=str(tmp_path / "m.csv"), group_column="patient"), tmp_path / "m.csv")
    assert table.groups == ["p1", "p2"]


@pytest.mark.timeout(300)
def test_where_a_search_runs_is_the_search_config_executor(qtbot, home, tmp_path, monkeypatch):
    monkeypatch.setattr(wizard_pages, "probe_in_child",
                        lambda kind, payload, **_: inspect_data(payload["data"], payload.get("config_file")))
    monkeypatch.setattr(wizard_pages.extras, "available", lambda extra: True)  # as if ray were installed
    window = _window(qtbot, tmp_path)
    wizard = open_wizard(window, wait=True)
    wizard.task_page.search.setChecked(True)
    wizard.next()
    page = wizard.data_page
    page.path.setText(str(tiny_npz(tmp_path / "tiny.npz")))
    qtbot.waitUntil(lambda: page.result is not None and page.isComplete(), timeout=30_000)
    wizard.next()  # a search has no preprocessing page
    model = wizard.model_page
    assert wizard.currentId() == MODEL and not model.where.isHidden() and model.where.currentText() == "this machine"
    form = model.forms["search"]
    model.where.setCurrentIndex(1)
    assert form.config.executor == "ray" and "a Ray instance started on this machine" in model.size.text()
    _set(form.editors["ray.address"], "10.0.0.5:6379")
    assert "the Ray cluster at 10.0.0.5:6379" in model.size.text()
    model.where.setCurrentIndex(0)
    assert form.config.executor == "auto" and "candidates run on this machine" in model.size.text()
    _set(form.editors["executor"], "ray")  # the form's own field moves the choice too
    assert model.where.currentIndex() == 1
    _set(form.editors["method"], "enas")  # ENAS trains its one shared network in the job's own process
    assert model.where.isHidden() and "candidates run on this machine" in model.size.text()
    assert f"{form.config.enas.epochs} shared epochs" in model.size.text() and "worker" not in model.size.text()
    assert not form.is_shown("ray.address")
    _set(form.editors["method"], "bbnas")
    assert not model.where.isHidden() and form.is_shown("ray.address")
    wizard.next()
    assert wizard.search_cfg.executor == "ray"
    assert "the Ray cluster at 10.0.0.5:6379" in wizard.summary_page.device.text()
    wizard.reject()


class _Quiet:
    """A launched job that says nothing (the queue's decisions are what is tested)."""

    def __init__(self, job_id: int) -> None:
        self.job_id, self.finished, self.pid = job_id, False, None

    def poll(self, _n):
        return []


def test_jobs_at_a_time_per_device_is_set_in_the_dock_and_kept(qtbot, home, tmp_path):
    import os

    from medvision_app.gui.job_monitor import JobMonitor
    from medvision_app.jobs.queue import JobQueue

    history = JobHistory()
    launched = []

    def launch(job_id, hist):
        launched.append(job_id)
        hist.mark_running(job_id, os.getpid())
        return _Quiet(job_id)

    monitor = JobMonitor(history, queue=JobQueue(history, launch=launch))
    qtbot.addWidget(monitor)
    ids = [monitor.submit(JobSpec("train", {"train": {"device": "cpu"}}, str(tmp_path / n))) for n in "abc"]
    assert launched == ids[:1]  # one CPU job at a time by default
    monitor.limits["cpu"].setValue(2)
    assert launched == ids[:2] and monitor.queue.per_device["cpu"] == 2  # the waiting one starts at once
    with pytest.raises(ValueError, match="expected 1 to 16"):
        monitor.queue.set_limit("cpu", 0)
    for job_id in ids:  # they "ran" as this process: a window closing would stop them, and us
        history.finish(job_id, "cancelled")

    window = _window(qtbot, tmp_path)
    window.job_monitor.limits["gpu"].setValue(3)
    again = _window(qtbot, tmp_path)  # the same settings file: a restart
    assert again.job_monitor.limits["gpu"].value() == 3 and again.job_monitor.queue.per_device["gpu"] == 3
    assert again.job_monitor.queue.per_device["cpu"] == 1


@pytest.mark.parametrize("key", [p.key for p in PRESETS])
def test_each_preset_reaches_the_summary_as_its_file_says(qtbot, home, tmp_path, monkeypatch, key):
    # The task page's radio buttons fire on the way in; they once wrote the method box's stale
    # choice into the preset, so the SE-BbNAS and ENAS presets launched BbNAS.
    monkeypatch.setattr(wizard_pages, "probe_in_child",
                        lambda kind, payload, **_: inspect_data(payload["data"], payload.get("config_file")))
    window = _window(qtbot, tmp_path)
    wizard = open_wizard(window, wait=True)
    p = preset(key)
    wizard.task_page.apply_preset(key)
    expected = p.config()
    assert wizard.kind == p.kind
    assert to_dict(wizard.config()) == expected
    if p.kind == "search":
        assert wizard.task_page.method.currentText() == expected["method"]
        assert wizard.task_page.search.isChecked() and wizard.task_page.method.isEnabled()
        wizard.next()
        wizard.data_page.path.setText(str(tiny_npz(tmp_path / "tiny.npz")))
        qtbot.waitUntil(lambda: wizard.data_page.result is not None and wizard.data_page.isComplete(),
                        timeout=30_000)
        wizard.next()
        assert wizard.currentId() == MODEL and wizard.model_page.forms["search"].config.method == expected["method"]
        wizard.next()
        assert wizard.currentId() == SUMMARY
        assert wizard.spec().config["method"] == expected["method"]
        assert f'method = "{expected["method"]}"' in wizard.summary_page.toml.toPlainText()
        # Duplicate of such a job opens on the task page the same way
        again = TrainingWizard(window, spec=JobSpec(kind="search", config=expected, run_dir=str(tmp_path / "s")))
        qtbot.addWidget(again)
        again.show()
        assert again.task_page.method.currentText() == expected["method"]
        assert again.search_cfg.method == expected["method"]
        again.reject()
    else:
        assert wizard.task_page.train.isChecked() and not wizard.task_page.method.isEnabled()
    wizard.reject()


def test_choosing_a_job_on_a_small_screen_makes_room_for_its_curves(qtbot, home, tmp_path):
    from medvision_app.gui.job_monitor import MIN_VIEWS_PX

    history = JobHistory()
    job_id = history.add(JobSpec("train", {"train": {"device": "cpu"}}, str(tmp_path / "run"), name="done-run"),
                         status="done")
    window = _window(qtbot, tmp_path)
    window.resize(1366, 740)  # a 1366x768 screen less the panel
    window.show()
    qtbot.waitExposed(window)
    dock, monitor = window.docks["jobs"], window.job_monitor
    dock.show()
    window.resizeDocks([dock], [150], Qt.Orientation.Vertical)  # as it starts there
    monitor.refresh()
    qtbot.waitUntil(lambda: dock.height() < 200, timeout=5_000)
    assert monitor.views.isHidden()
    monitor.table.selectRow(0)  # the user picks the job
    assert monitor.selected().id == job_id
    qtbot.waitUntil(lambda: dock.height() >= int(window.height() * 0.55) - 10, timeout=5_000)
    qtbot.waitUntil(lambda: monitor.views.height() >= MIN_VIEWS_PX, timeout=5_000)
    assert monitor.table.height() >= 60  # the list keeps its rows
    # an automatic refresh never resizes what the user has set
    window.resizeDocks([dock], [200], Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: dock.height() < 260, timeout=5_000)
    small = dock.height()
    monitor.refresh()
    qtbot.wait(50)
    assert dock.height() == small


def test_an_export_shows_what_it_wrote_and_no_empty_curves(qtbot, home, tmp_path):
    from medvision_app.gui.job_monitor import JobMonitor

    history = JobHistory()
    train = history.add(JobSpec("train", {"train": {"device": "cpu"}}, str(tmp_path / "run")), status="done")
    export = history.add(JobSpec("export", {"register": True}, str(tmp_path / "run")), status="done")
    monitor = JobMonitor(history)
    qtbot.addWidget(monitor)
    monitor.show()
    wanted = []
    monitor.roomWanted.connect(lambda: wanted.append(True))
    monitor._track(export).feed([{"event": "JobStarted", "job_id": export, "job_kind": "export", "pid": 1},
                                 {"event": "JobFinished", "job_id": export, "status": "done",
                                  "summary": {"model": "/r/model.onnx", "registered": "/home/models/m.onnx"}}])
    monitor.select(export, reveal=True)
    assert monitor.views.isHidden() and not wanted  # nothing to plot, nothing to make room for
    text = monitor.info.text()
    assert "registered /home/models/m.onnx" in text and "loading" not in text and "importing" not in text
    monitor.select(train, reveal=True)
    assert not monitor.views.isHidden()
