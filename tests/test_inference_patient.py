"""Patient metadata for metadata-fusion models: from DICOM tags, from the command line, encoded as in training."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from dicom_factory import write_dicom
from inference_support import TinyAttentionNet, tiny_card

from medvision_app.imaging import open_image
from medvision_app.inference.export import export_module
from medvision_app.inference.patient import PatientFacts, encode_patient, facts_from_image

ENCODING = {"age_mean": 50.0, "age_std": 10.0, "sexes": ["female", "male", "unknown"],
            "sites": ["back", "face", "unknown"]}
N_FEATURES = 2 + 3 + 3


def _card():
    return dataclasses.replace(tiny_card(metadata_features=N_FEATURES, preprocessing={"steps": []}),
                               metadata_encoding=ENCODING)


def test_facts_are_encoded_as_in_training_with_dicom_sex_codes():
    vector, unknown = encode_patient(_card(), PatientFacts(60.0, "M", "Back"))
    np.testing.assert_array_equal(vector, [1.0, 1.0, 0, 1, 0, 1, 0, 0])
    assert unknown == []


def test_unknown_and_unseen_values_are_named():
    vector, unknown = encode_patient(_card(), PatientFacts(None, "female", "scalp"))
    np.testing.assert_array_equal(vector, [0.0, 0.0, 1, 0, 0, 0, 0, 1])
    assert unknown == ["age", "site"]


def test_stated_facts_override_the_header(tmp_path):
    path = write_dicom(tmp_path / "p.dcm", np.zeros((28, 28), np.uint16), PatientAge="045Y", PatientSex="F",
                       BodyPartExamined="FACE")
    header = facts_from_image(open_image(path))
    assert header == PatientFacts(45.0, "F", "FACE")
    assert header.overridden_by(PatientFacts(sex="male")) == PatientFacts(45.0, "male", "FACE")


def test_card_without_encoding_is_refused():
    from medvision_app.inference.errors import ModelError

    card = tiny_card(metadata_features=N_FEATURES)
    with pytest.raises(ModelError, match="lacks the encoding"):
        encode_patient(card, PatientFacts())


def test_cli_predict_feeds_header_and_stated_metadata_to_the_model(tmp_path, capsys):
    from medvision_app.cli.main import main

    rng = np.random.default_rng(0)
    images = rng.random((2, 1, 28, 28), dtype=np.float32)
    model, _ = export_module(TinyAttentionNet(metadata_features=N_FEATURES), _card(), images, tmp_path / "m.onnx",
                             metadata=np.zeros((2, N_FEATURES), np.float32))
    dicom = write_dicom(tmp_path / "p.dcm", (rng.random((28, 28)) * 4000).astype(np.uint16), PatientAge="070Y",
                        PatientSex="M")

    def run(*extra):
        assert main(["predict", str(model), str(dicom), "--json", *extra]) == 0
        captured = capsys.readouterr()
        return json.loads(captured.out.strip().splitlines()[-1])["probabilities"], captured.err

    header_only, warning = run()
    assert f"{dicom}: site not known" in warning  # age and sex came from the header
    stated_female, _ = run("--sex", "female", "--site", "back")
    stated_male_header_age, _ = run("--site", "back")
    # the metadata reaches the network: different facts, different probabilities
    assert stated_female != stated_male_header_age
    assert header_only != stated_male_header_age
