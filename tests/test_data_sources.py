"""Data sources, leak-free splits, metadata encoding and unreadable-image handling."""

from __future__ import annotations

import numpy as np
import pytest

from medvision_app.data import (
    DataConfig,
    DataError,
    MetadataEncoding,
    SplitConfig,
    fit_encoding,
    grouped_stratified_split,
    prepare_data,
    read_source,
    split_table,
)
from medvision_app.data.metadata import UNKNOWN
from medvision_app.utils.config_io import dumps, loads


def _table(shared_data, rel, **kw):
    path = shared_data / rel
    config = DataConfig(path=str(path), **kw)
    return config, read_source(config, path)


def test_class_folder_source_lists_each_class(shared_data):
    _, table = _table(shared_data, "mini-mias-abnormal")
    assert table.class_names == ["benign", "malignant"]
    assert np.bincount(table.labels).tolist() == [63, 52]
    # labels.csv, Info.txt and SHA256SUMS at the top level are not images
    assert all("/" in i for i in table.ids)


def test_medmnist_keeps_its_split(shared_data):
    config, table = _table(shared_data, "breastmnist/breastmnist.npz")
    parts = split_table(table, config)
    assert {k: len(v) for k, v in parts.items()} == {"train": 546, "val": 78, "test": 156}
    assert table.class_names == ["malignant", "normal, benign"]
    assert table.arrays.shape[1:] == (28, 28)


def test_mnist_idx_and_carved_validation(shared_data):
    config, table = _table(shared_data, "mnist", split=SplitConfig(ratios=(0.9, 0.1, 0.0)))
    parts = split_table(table, config)
    assert len(parts["train"]) + len(parts["val"]) == 60000
    assert len(parts["test"]) == 10000
    assert abs(len(parts["val"]) - 6000) < 50
    assert table.arrays.shape == (70000, 28, 28)


def test_dermamnist_split_from_ids(shared_data):
    config, table = _table(shared_data, "dermamnist-jpeg28")
    parts = split_table(table, config)
    assert {k: len(v) for k, v in parts.items()} == {"train": 7007, "val": 1003, "test": 2005}
    assert len(table.class_names) == 7


def test_ham10000_split_is_grouped_by_lesion_and_stratified(shared_data):
    config, table = _table(shared_data, "ham10000-200x150")
    parts = split_table(table, config)
    lesions = {name: set(part.groups) for name, part in parts.items()}
    assert not lesions["train"] & lesions["val"]
    assert not lesions["train"] & lesions["test"]
    assert not lesions["val"] & lesions["test"]
    assert sum(len(p) for p in parts.values()) == len(table)
    # stratified: every class keeps roughly its share in the training split
    overall = np.bincount(table.labels, minlength=7) / len(table)
    train = np.bincount(parts["train"].labels, minlength=7) / len(parts["train"])
    assert np.abs(overall - train).max() < 0.02
    assert 0.80 < len(parts["train"]) / len(table) < 0.90


@pytest.mark.parametrize("ratios", [(0.85, 0.10, 0.05), (0.7, 0.2, 0.1), (0.9, 0.1, 0.0)])
def test_grouped_split_ratios_and_no_leakage(ratios):
    rng = np.random.default_rng(1)
    groups = [f"p{g}" for g in rng.integers(0, 300, 2000)]
    group_label = {g: int(rng.integers(0, 3)) for g in set(groups)}
    labels = np.array([group_label[g] for g in groups])
    parts = grouped_stratified_split(labels, groups, ratios, seed=3)
    seen = [set(np.asarray(groups)[idx]) for idx in parts.values()]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    sizes = np.array([len(parts[s]) for s in ("train", "val", "test")]) / len(labels)
    assert np.allclose(sizes, ratios, atol=0.03)
    again = grouped_stratified_split(labels, groups, ratios, seed=3)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


def test_wrong_folder_layout_names_the_folder(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(DataError, match=str(tmp_path)) as info:
        read_source(DataConfig(path=str(tmp_path), format="folder"), tmp_path)
    assert "one sub-folder per class" in str(info.value)


def test_manifest_missing_column_names_file_and_column(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,diagnosis\na.png,x\n")
    with pytest.raises(DataError, match=r"m\.csv: missing column\(s\) label"):
        read_source(DataConfig(path=str(manifest)), manifest)


def _manifest_with_bad_image(tmp_path, shared_data):
    good = sorted((shared_data / "busi-256" / "benign").iterdir())[:3]
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image at all")
    rows = ["path,label,patient_id,age,sex,site"]
    rows += [f"{p},benign,p{i},{40 + i},female,breast" for i, p in enumerate(good)]
    rows += [f"{sorted((shared_data / 'busi-256' / 'malignant').iterdir())[0]},malignant,p9,,,"]
    rows += [f"{bad},malignant,p10,50,male,"]
    manifest = tmp_path / "m.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest, bad


def test_unreadable_image_fails_or_is_skipped_and_reported(tmp_path, shared_data):
    manifest, bad = _manifest_with_bad_image(tmp_path, shared_data)
    config = DataConfig(path=str(manifest), split=SplitConfig(ratios=(1.0, 0.0, 0.0)))
    with pytest.raises(DataError, match="broken.png: cannot open"):
        prepare_data(config, manifest, input_size=16, in_channels=1)
    config.on_unreadable = "skip"
    prepared = prepare_data(config, manifest, input_size=16, in_channels=1)
    assert [p for p, _ in prepared.skipped] == [str(bad)]
    train = prepared.datasets["train"]
    assert len(train) == 4
    assert train.images.shape == (4, 1, 16, 16)


def test_metadata_encoding_unknown_is_its_own_category(tmp_path, shared_data):
    manifest, _ = _manifest_with_bad_image(tmp_path, shared_data)
    config = DataConfig(
        path=str(manifest), on_unreadable="skip", use_metadata=True, split=SplitConfig(ratios=(1.0, 0.0, 0.0))
    )
    prepared = prepare_data(config, manifest, input_size=16, in_channels=3)
    enc = prepared.metadata_encoding
    assert enc.sexes == [UNKNOWN, "female", "male"] and enc.sites[0] == UNKNOWN
    meta = prepared.datasets["train"].metadata.numpy()
    assert meta.shape == (4, enc.n_features)
    assert np.allclose(meta[:, 2:2 + len(enc.sexes)].sum(1), 1)
    ages = [40, 41, 42]
    assert enc.age_mean == pytest.approx(np.mean(ages + [50]))
    # the sample without age has the flag off and a neutral value
    missing = np.flatnonzero(meta[:, 1] == 0)
    assert len(missing) == 1 and meta[missing[0], 0] == 0
    # an unseen category at inference time falls back to "unknown"
    vec = enc.encode(40.0, "other", "nowhere")
    assert vec[2 + enc.sexes.index(UNKNOWN)] == 1
    assert vec[2 + len(enc.sexes) + enc.sites.index(UNKNOWN)] == 1
    back = loads(MetadataEncoding, dumps(enc))
    assert back == enc


def test_fit_encoding_without_any_age():
    enc = fit_encoding(np.array([np.nan, np.nan]), ["male", "female"], None)
    assert enc.age_mean == 0.0 and enc.age_std == 1.0
    assert enc.sites == [UNKNOWN]


def test_limit_keeps_class_shares(shared_data):
    config, table = _table(shared_data, "ham10000-200x150", limit=70)
    parts = split_table(table, config)
    assert all(len(p) == 70 for p in parts.values())
    train = parts["train"]
    # every one of the 7 classes, even the rarest (about 1 %), is represented
    assert len(np.unique(train.labels)) == 7
    share_nv = np.mean(train.labels == table.class_names.index("nv"))
    assert abs(share_nv - np.mean(table.labels == table.class_names.index("nv"))) < 0.05


def test_a_fifo_given_as_training_data_is_refused_not_waited_on(tmp_path):
    import os

    from medvision_app.data import DataError, read_source

    for name, fmt in (("labels.csv", "csv"), ("data.npz", "medmnist")):
        fifo = tmp_path / name
        os.mkfifo(fifo)
        with pytest.raises(DataError, match=name) as info:
            read_source(DataConfig(path=str(fifo), format=fmt), fifo)
        assert "FIFO" in str(info.value) or "pipe" in str(info.value)
