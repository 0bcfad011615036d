"""The configuration form reads the fields' declared choices, ranges, units, help and optional states."""

from __future__ import annotations

from medvision_app.gui.config_form import ConfigForm
from medvision_app.training.settings import TrainSettings
from medvision_app.utils.config_io import ConfigError, from_dict


def _edit(editor, text: str) -> None:
    editor.setText(text)
    editor.editingFinished.emit()


def test_optional_fields_choices_ranges_and_errors(qtbot):
    form = ConfigForm(TrainSettings())
    qtbot.addWidget(form)
    changed, errors = [], []
    form.configChanged.connect(changed.append)
    form.invalid.connect(errors.append)

    threads = form.editors["cpu_threads"]
    assert threads.text() == "auto" and threads.suffix() == " threads"  # None shows as auto
    threads.setValue(2)
    assert changed[-1].cpu_threads == 2 and not errors
    threads.setValue(threads.minimum())
    assert changed[-1].cpu_threads is None

    epochs = form.editors["epochs"]
    assert (epochs.minimum(), epochs.maximum()) == (1, 100_000) and "Passes over the training data" in epochs.toolTip()
    device = form.editors["device"]
    assert [device.itemText(i) for i in range(device.count())] == ["auto", "cpu", "cuda"]
    device.setCurrentText("cpu")
    assert changed[-1].device == "cpu"

    _edit(form.editors["eps"], "1e-9")  # a spin box with 3 decimals would have made it 0
    assert changed[-1].eps == 1e-9
    _edit(form.editors["weight_decay"], "nan")
    assert errors[-1].startswith("weight_decay:") and "finite" in errors[-1]
    assert form.editors["weight_decay"].styleSheet() and not form.editors["eps"].styleSheet()
    assert form.config.weight_decay == 0.0  # not applied
    _edit(form.editors["weight_decay"], "0.01")
    assert changed[-1].weight_decay == 0.01 and not form.editors["weight_decay"].styleSheet()
    form.editors["early_stopping.patience"].setValue(3)
    assert changed[-1].early_stopping.patience == 3 and changed[-1].cpu_threads is None


def test_optional_error_names_the_key_once():
    try:
        from_dict(TrainSettings, {"cpu_threads": "two"})
    except ConfigError as exc:
        assert str(exc).count("cpu_threads") == 1, str(exc)
    else:
        raise AssertionError("a text thread count was accepted")


def test_a_float_field_shows_its_unit_in_its_label(qtbot):
    from PySide6.QtWidgets import QFormLayout, QLabel

    from medvision_app.search.config import SearchConfig

    form = ConfigForm(SearchConfig())
    qtbot.addWidget(form)

    def label_of(key: str) -> str:
        editor = form.editors[key]
        layout = editor.parentWidget().layout()
        assert isinstance(layout, QFormLayout)
        return layout.labelForField(editor).text() if isinstance(layout.labelForField(editor), QLabel) else ""

    assert label_of("select_margin") == "select margin (standard errors)"
    assert label_of("budget_seconds") == "budget seconds"  # the unit is already in the name
    assert label_of("seed") == "seed" and form.editors["stop_patience"].suffix() == " iterations"


def test_a_path_field_has_a_chooser_that_fills_it(qtbot, monkeypatch, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog

    from medvision_app.gui import config_form
    from medvision_app.networks import ModelConfig

    weights = tmp_path / "alexnet-owt-7be5be79.pth"
    weights.write_bytes(b"")
    form = ConfigForm(ModelConfig())
    qtbot.addWidget(form)
    changed = []
    form.configChanged.connect(changed.append)
    editor = form.editors["weights_path"]
    button = form.choosers[editor]
    asked = []
    monkeypatch.setattr(config_form.QFileDialog, "getOpenFileName",
                        lambda parent, title, start: asked.append((title, start)) or (str(weights), ""))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert asked == [("weights path", "")] and editor.text() == str(weights)
    assert changed[-1].weights_path == str(weights)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a: ("", ""))  # the user cancels: nothing changes
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert editor.text() == str(weights) and changed[-1].weights_path == str(weights)
    assert "dropout" in form.editors and form.editors["dropout"] not in form.choosers  # only paths get one


def test_a_network_shows_only_the_settings_that_apply_to_it(qtbot):
    from medvision_app.networks import ModelConfig

    form = ConfigForm(ModelConfig(name="alexnet", pretrained="imagenet", dense_units=128))
    qtbot.addWidget(form)
    form.show()
    shown = [k for k in ("architecture", "architecture.text", "dense_units", "dense_dropout", "weights_path",
                         "attention_maps", "dropout", "metadata_hidden", "input_size") if form.is_shown(k)]
    # weights_path stays: a path left behind with pretrained = none is refused by name, and must be reachable
    assert shown == ["weights_path", "input_size"]
    assert not form.editors["dense_units"].isVisible() and form.editors["input_size"].isVisible()

    _edit(form.editors["name"], "pnet")
    assert form.is_shown("dense_units") and form.editors["dense_units"].isVisible()
    assert not form.is_shown("architecture")
    assert form.config.dense_units == 128  # kept while it was hidden
    form.editors["soft_attention"].setChecked(True)
    assert form.is_shown("attention_maps") and form.is_shown("dropout")
    _edit(form.editors["name"], "genotype")
    assert form.is_shown("architecture.text") and not form.is_shown("dense_units")


def test_a_search_shows_the_settings_of_its_method_and_executor(qtbot):
    from medvision_app.search.config import SearchConfig

    form = ConfigForm(SearchConfig(method="bbnas"))
    qtbot.addWidget(form)
    assert form.is_shown("candidate.lr") and form.is_shown("discard_margin") and not form.is_shown("enas.epochs")
    assert not form.is_shown("ray.address")  # executor auto
    form.editors["executor"].setCurrentText("ray")
    assert form.is_shown("ray.address")
    form.editors["early_discard"].setChecked(False)
    assert not form.is_shown("discard_margin") and form.is_shown("successive_halving")
    form.editors["method"].setCurrentText("enas")
    assert form.is_shown("enas.epochs") and not form.is_shown("candidate.lr") and not form.is_shown("ray.address")
    assert not form.is_shown("executor") and form.is_shown("final.eval.tta") and form.is_shown("budget_seconds")
    assert not form.is_shown("final.epochs") and form.is_shown("final.ensemble")  # enas.final_epochs instead
    assert form.config.method == "enas" and form.config.executor == "ray"  # hidden, not cleared


def test_a_hidden_setting_an_error_names_is_shown_until_mended(qtbot):
    from medvision_app.search.config import SearchConfig

    form = ConfigForm(SearchConfig(method="bbnas"))
    qtbot.addWidget(form)
    form.editors["final.init"].setCurrentText("search")
    form.editors["final.ensemble"].setValue(3)  # refused: copies of one set of weights stay one network
    assert "final.init" in form.error
    form.editors["method"].setCurrentText("enas")  # hides final.init, which the error names
    assert form.is_shown("final.init") and "final.init" in form.error
    form.editors["final.init"].setCurrentText("scratch")
    assert not form.error and not form.is_shown("final.init") and form.config.method == "enas"


def test_an_error_outlines_the_key_it_names_not_one_ending_in_the_same_name(qtbot):
    from medvision_app.search.config import SearchConfig

    form = ConfigForm(SearchConfig())
    qtbot.addWidget(form)
    outlined = lambda: {k for k, editor in form.editors.items() if editor.styleSheet()}  # noqa: E731

    # "final.train_limit" ends in the top-level "train_limit"; an error about the retraining's is not the search's
    form._mark("search.toml: final.train_limit: -1 is out of range; allowed: 0 or more")
    assert outlined() == {"final.train_limit"}
    form._mark("final.eval.threshold.method: 'x' is not one of ['youden', 'fixed']")
    assert outlined() == {"final.eval.threshold.method"}
    form._mark("SearchConfig: val_fraction=1.5 must be between 0 and 1")  # a __post_init__ writes key=value
    assert outlined() == {"val_fraction"}

    # through the editors: a NaN threshold outlines that editor alone, and mending it clears the outline
    _edit(form.editors["final.eval.threshold.value"], "nan")
    assert outlined() == {"final.eval.threshold.value"}, form.error
    _edit(form.editors["final.eval.threshold.value"], "0.5")
    assert not outlined() and not form.error
