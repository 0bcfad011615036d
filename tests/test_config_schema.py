"""Field metadata (help, range, unit), choices and the one validation the loader, --set and the form share."""

from __future__ import annotations

import dataclasses
from typing import Literal, Optional

import pytest

from medvision_app.augmentation import AugmentationConfig
from medvision_app.search.config import SearchConfig
from medvision_app.training.config import TrainConfig
from medvision_app.training.settings import MONITORS, TrainSettings
from medvision_app.utils.config_io import ConfigError, apply_overrides, dumps, from_dict, loads, to_dict
from medvision_app.utils.config_schema import choices, option, validate


@dataclasses.dataclass
class _Inner:
    rate: float = option(0.5, help="A rate.", range=(0.0, 1.0))


@dataclasses.dataclass
class _Outer:
    count: int = option(3, help="How many.", range=(1, None), unit="images")
    mode: Literal["a", "b"] = option("a", help="Which mode.")
    limit: Optional[int] = option(None, help="At most.", range=(None, 10))
    inner: _Inner = option(help="Nested.", default_factory=_Inner)
    values: list[float] = option(help="Some numbers.", default_factory=list, range=(0.0, None))


def test_option_puts_help_range_and_unit_in_metadata():
    f = {f.name: f for f in dataclasses.fields(_Outer)}
    assert f["count"].metadata == {"help": "How many.", "range": (1, None), "unit": "images"}
    assert f["mode"].metadata == {"help": "Which mode."}
    assert _Outer().inner == _Inner() and _Outer().values == []
    assert choices(Literal["a", "b"]) == ["a", "b"]
    assert choices(Optional[Literal["x"]]) == ["x"]
    assert choices(int) is None


@pytest.mark.parametrize(("obj", "message"), [
    (_Outer(count=0), r"count: 0 is out of range; allowed: 1 or more images"),
    (_Outer(mode="c"), r"mode: 'c' is not one of \['a', 'b'\]"),
    (_Outer(limit=11), r"limit: 11 is out of range; allowed: 10 or less"),
    (_Outer(inner=_Inner(rate=float("nan"))), r"inner\.rate: nan is not a finite number; allowed: 0\.0 to 1\.0"),
    (_Outer(values=[1.0, -2.0]), r"values\[1\]: -2\.0 is out of range"),
])
def test_validate_names_the_dotted_key_and_what_is_allowed(obj, message):
    with pytest.raises(ConfigError, match=message):
        validate(obj)


def test_validate_accepts_none_for_optional_and_the_boundaries():
    validate(_Outer(count=1, limit=10, inner=_Inner(rate=1.0)))


def test_every_shipped_default_is_valid():
    for config in (TrainConfig(), SearchConfig(), AugmentationConfig()):
        validate(config)


def test_user_set_training_fields_carry_help():
    hinted = {f.name: f for f in dataclasses.fields(TrainSettings)}
    for name in ("epochs", "batch_size", "lr", "weight_decay", "eps", "optimizer", "loss", "device"):
        assert hinted[name].metadata["help"], name
    assert hinted["epochs"].metadata["unit"] == "epochs"
    from typing import get_type_hints

    assert choices(get_type_hints(TrainSettings)["optimizer"]) == ["adam", "sgdm"]
    assert choices(get_type_hints(TrainSettings)["early_stopping"]) is None


@pytest.mark.parametrize(("override", "message"), [
    ("train.weight_decay=nan", r"train\.weight_decay: nan is not a finite number"),
    ("train.eps=-1", r"train\.eps: -1\.0 is out of range; allowed: 0\.0 to 1\.0"),
    ("train.eps=0", r"train: eps must be above 0"),
    ("train.lr=inf", r"train\.lr: inf is not a finite number"),
    ("train.early_stopping.monitor=bogus", r"train\.early_stopping\.monitor: 'bogus' is not one of \['val_loss'"),
    ("train.plateau.monitor=val_f1", r"train\.plateau\.monitor: 'val_f1' is not one of"),
    ("train.optimizer=sgd", r"train\.optimizer: 'sgd' is not one of \['adam', 'sgdm'\]"),
    ("train.epochs=0", r"train\.epochs: 0 is out of range; allowed: 1 to 100000 epochs"),
    ("data.split.ratios=[0.5, 0.5, nan]", r"data\.split\.ratios\[2\]: nan is not a finite number"),
    ("model.pretrained=yes", r"model\.pretrained: 'yes' is not one of \['none', 'imagenet'\]"),
    ("augmentation.zoom.amount=-0.5", r"augmentation\.zoom\.amount: -0\.5 is out of range"),
])
def test_set_overrides_are_refused_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(TrainConfig, apply_overrides(to_dict(TrainConfig()), [override]))


def test_toml_file_gets_the_same_check():
    text = "[train]\nweight_decay = nan\n"
    with pytest.raises(ConfigError, match=r"train\.weight_decay: nan is not a finite number"):
        loads(TrainConfig, text, "toml")
    with pytest.raises(ConfigError, match=r"candidate\.lr: -0\.1 is out of range"):
        loads(SearchConfig, "[candidate]\nlr = -0.1\n", "toml")


def test_every_monitor_choice_is_accepted():
    for monitor in MONITORS:
        cfg = from_dict(TrainConfig, apply_overrides(to_dict(TrainConfig()), [f"train.early_stopping.monitor={monitor}"]))
        assert cfg.train.early_stopping.monitor == monitor


def test_round_trip_keeps_the_values():
    cfg = from_dict(TrainConfig, apply_overrides(to_dict(TrainConfig()), ["train.lr=0.01", "train.cpu_threads=2"]))
    again = loads(TrainConfig, dumps(cfg, "toml"), "toml")
    assert again == cfg


def test_a_file_is_named_apart_from_the_dotted_key(tmp_path):
    from medvision_app.utils.config_io import load_config

    path = tmp_path / "run.toml"
    path.write_text("[train.early_stopping]\nmonitor = \"bogus\"\n")
    with pytest.raises(ConfigError) as info:
        load_config(TrainConfig, path)
    assert str(info.value).startswith(f"{path}: train.early_stopping.monitor: 'bogus' is not one of")


def _conditional_fields(cls, prefix="", root=None):
    """(dotted key, field, owner class, root class) of every field declared with ``when``, nested ones too."""
    from typing import get_type_hints

    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("when"):
            yield prefix + f.name, f, cls, root or cls
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            yield from _conditional_fields(hint, f"{prefix}{f.name}.", root or cls)


def test_every_when_names_a_sibling_and_values_it_can_take():
    from typing import get_type_hints

    found = list(_conditional_fields(TrainConfig)) + list(_conditional_fields(SearchConfig))
    assert {"model.architecture", "model.dense_units", "ray", "enas", "candidate", "final.epochs"} <= {
        k for k, *_ in found}
    for key, f, owner, root in found:
        for name, values in f.metadata["when"].items():
            where = root if name.startswith("/") else owner
            hints = get_type_hints(where)
            name = name.removeprefix("/")
            assert name in hints, f"{key}: when names {name!r}, which {where.__name__} lacks"
            allowed = choices(hints[name]) or ([True, False] if hints[name] is bool else None)
            if allowed is not None:
                assert set(values) <= set(allowed), f"{key}: when {name} in {values}, allowed {allowed}"


def test_applies_reads_an_instance_or_its_values():
    from medvision_app.networks import ModelConfig
    from medvision_app.utils.config_schema import applies

    dense = {f.name: f for f in dataclasses.fields(ModelConfig)}["dense_units"]
    assert applies(dense, ModelConfig(name="pnet")) and not applies(dense, ModelConfig(name="alexnet"))
    assert applies(dense, {"name": "pnet"}) and not applies(dense, {"name": "enas"})
    plain = {f.name: f for f in dataclasses.fields(ModelConfig)}["input_size"]
    assert applies(plain, ModelConfig(name="alexnet"))
    epochs = {f.name: f for f in dataclasses.fields(SearchConfig().final)}["epochs"]  # when={"/method": ...}
    assert applies(epochs, SearchConfig().final, SearchConfig(method="se-bbnas"))
    assert not applies(epochs, SearchConfig().final, SearchConfig(method="enas"))
    with pytest.raises(ValueError, match="root"):
        applies(epochs, SearchConfig().final)
