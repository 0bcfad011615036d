"""The evaluation report: its text, checked against scikit-learn, and the CLI's one-line errors."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader
from sklearn import metrics as skm

from medvision_app.cli.main import main
from medvision_app.reports import DISCLAIMER
from medvision_app.reports.evaluation_report import build_evaluation_report
from tests.report_support import fixed_predictions, make_run


def _text(data_or_path) -> str:
    import io

    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else str(data_or_path)
    reader = PdfReader(source)
    return " ".join(re.sub(r"\s+", " ", page.extract_text() or "") for page in reader.pages), reader


def test_evaluation_report_text_carries_the_numbers(tmp_path):
    run = make_run(tmp_path / "run-a")
    text, reader = _text(build_evaluation_report(run, n_resamples=100))
    y, p = fixed_predictions()
    pages = len(reader.pages)
    assert pages >= 2
    for page in range(1, pages + 1):
        assert f"page {page} of {pages}" in text
    assert text.count(DISCLAIMER) == pages
    auc = skm.roc_auc_score(y == 0, p[:, 0])
    assert f"AUC (malignant) {auc:.3f}" in text
    accuracy = skm.accuracy_score(y, p.argmax(1))
    assert f"accuracy {accuracy:.3f}" in text
    recall = skm.recall_score(y, p.argmax(1), average=None)
    assert f"{recall[0]:.3f}" in text and f"{recall[1]:.3f}" in text
    for words in ("Training curves", "Confusion matrix", "ROC and precision-recall", "Calibration",
                  "Per-class metrics", "How the split was made", "Operating points", "fixture run"):
        assert words in text
    meta = reader.metadata
    assert meta.title == "Evaluation report: run-a" and meta.author == "MedVision"


def test_cli_writes_the_evaluation_report(tmp_path, capsys):
    run = make_run(tmp_path / "run-b", classes=("a", "b", "c"))
    out = tmp_path / "eval.pdf"
    assert main(["report", "evaluation", str(run), "--out", str(out), "--resamples", "40"]) == 0
    text, _ = _text(out)
    assert "Per-class metrics" in text and "Operating points" not in text  # no threshold for three classes


@pytest.mark.parametrize("problem", ["missing", "broken"])
def test_cli_missing_or_broken_run_is_one_error_line(tmp_path, capsys, problem):
    run = tmp_path / "run"
    if problem == "broken":
        make_run(run)
        (run / "predictions.csv").write_text("id,true_label,predicted_label,prob_a,prob_b\nx,zzz,a,0.5,0.5\n")
    code = main(["report", "evaluation", str(run), "--out", str(tmp_path / "e.pdf")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and str(run) in err[0]
    assert not (tmp_path / "e.pdf").exists()


def test_search_folder_report_has_tree_pareto_and_the_chosen_architecture(tmp_path):
    from tests.report_support import make_search

    search = make_search(tmp_path / "search")
    text, _ = _text(build_evaluation_report(search, n_resamples=40))
    assert "Search" in text and "se-bbnas" in text
    assert "Chosen architecture C32-SE-P" in text  # the result's genotype, as the search wrote it
    assert "Final model" in text and "Per-class metrics" in text
    assert "C24-SE-P" in text  # a Pareto-front row


def test_configuration_rows_name_the_augmentations_and_schedule_a_run_used():
    from medvision_app.reports.evaluation_report import _config_rows

    cfg = {"model": {"name": "pnet"},
           "train": {"epochs": 3, "schedule": "cosine", "label_smoothing": 0.1, "mixup_alpha": 0.0},
           "augmentation": {"rotation": {"probability": 0.5, "degrees": [-10, 10]}, "zoom": {"probability": 0.0},
                            "horizontal_flip": 0.5, "vertical_flip": 0.0, "description": ""}}
    rows = dict(_config_rows(cfg))
    assert rows["Augmentation"] == "rotation p=0.5, horizontal flip p=0.5"
    assert "schedule cosine" in rows["Training"] and "label smoothing 0.1" in rows["Training"]
    assert "mixup" not in rows["Training"]
    assert dict(_config_rows({"augmentation": {"zoom": {"probability": 0.0}}}))["Augmentation"] == "none"
