"""Analysing images without a GUI: one result per image, intended use, the results cache, the exam score."""

from __future__ import annotations

import numpy as np
import pytest
from dicom_factory import write_dicom
from PIL import Image

from medvision_app.inference.analysis import ImageResult, analyse, exam_score, score_class
from medvision_app.inference.registry import SHIPPED_DIR
from medvision_app.inference.results_store import ResultsStore

DEMO = SHIPPED_DIR / "breastmnist.onnx"


@pytest.fixture(autouse=True)
def medvision_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDVISION_DEVICE", "cpu")


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    png = tmp_path / "us.png"
    Image.fromarray((rng.random((64, 80)) * 255).astype(np.uint8)).save(png)
    mg = write_dicom(tmp_path / "mg.dcm", (rng.random((60, 40)) * 4000).astype(np.uint16), Modality="MG",
                     ImageLaterality="L", ViewPosition="CC")
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"DICM" * 10)
    return png, mg, broken


def _run(paths, model=DEMO, **kwargs):
    gen = analyse(paths, model, **kwargs)
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value


def test_each_image_gets_a_status(files):
    png, mg, broken = files
    events, results = _run([png, mg, broken])
    assert [e.done for e in events] == [1, 2, 3] and all(e.total == 3 for e in events)
    ok, outside, failed = results
    # the shipped breast model's heatmap is its class activation map (attention models: test_inference_predict)
    assert ok.status == "ok" and ok.analysed and ok.heatmap is not None and ok.heatmap_kind == "cam"
    assert ok.heatmap.ndim == 2 and ok.score == ok.probabilities["malignant"]
    assert outside.status == "outside_intended_use" and "MG" in outside.reason and not outside.analysed
    assert outside.view == "LCC"
    assert failed.status == "failed" and "broken.dcm" in failed.reason


def test_research_override_is_recorded(files):
    _png, mg, _ = files
    _, (result,) = _run([mg], research_override=True)
    assert result.status == "outside_intended_use" and result.research_override and result.analysed
    # the heatmap lands on the original grid
    assert result.heatmap_on(result.original_shape).shape == (60, 40)


def test_results_are_cached_and_cleared(files):
    png, mg, _ = files
    _, first = _run([png, mg], research_override=True)
    assert not any(r.cached for r in first)
    _, again = _run([png, mg], research_override=True)
    assert all(r.cached for r in again)
    assert again[0].probabilities == pytest.approx(first[0].probabilities)
    assert np.allclose(again[0].heatmap, first[0].heatmap)
    assert again[1].geometry == first[1].geometry
    # the MG result was an override: without the override it is refused, not served from the cache
    _, refused = _run([mg])
    assert refused[0].status == "outside_intended_use" and not refused[0].analysed
    store = ResultsStore()
    assert store.clear([first[0].image_key]) == 1
    _, third = _run([png])
    assert not third[0].cached


def test_damaged_cache_row_is_ignored(files, tmp_path):
    png, _, _ = files
    _, (first,) = _run([png])
    store = ResultsStore()
    store._db().execute("UPDATE results SET summary = 'not json'")
    store._db().commit()
    assert store.get(first.image_key, first.model_sha256) is None


def test_exam_score_is_the_highest_view():
    views = [ImageResult("a", "ok", score=0.2, view="LCC"), ImageResult("b", "ok", score=0.7, view="RMLO"),
             ImageResult("c", "failed")]
    assert exam_score(views).view == "RMLO" and exam_score([views[2]]) is None
    assert score_class(["normal, benign", "malignant"]) == "malignant"
    assert score_class(["cat", "dog"]) == "cat"


def test_helper_processes_give_the_same_results_and_cancel(files):
    from medvision_app.events import Cancelled, CancelToken
    from medvision_app.inference.analysis_pool import analyse_in_processes

    png, mg, broken = files
    _, threaded = _run([png, mg, broken], use_store=False)
    gen = analyse_in_processes([png, mg, broken], DEMO, use_store=False)
    events = list(_drain(gen))
    results = [e.result for e in events]
    assert [r.status for r in results] == [r.status for r in threaded]
    assert results[0].probabilities == pytest.approx(threaded[0].probabilities)
    assert np.allclose(results[0].heatmap, threaded[0].heatmap)
    token = CancelToken()
    gen = analyse_in_processes([png] * 6, DEMO, use_store=False, cancel=token)
    next(gen)
    token.cancel()
    with pytest.raises(Cancelled):
        list(gen)


def _drain(gen):
    while True:
        try:
            yield next(gen)
        except StopIteration:
            return


def test_a_refused_model_fails_before_any_result(files, tmp_path):
    from medvision_app.inference.analysis_pool import analyse_in_processes
    from medvision_app.inference.errors import ModelError

    png, _, _ = files
    data = bytearray(DEMO.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered = tmp_path / "tampered.onnx"
    tampered.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="tampered.onnx"):
        next(analyse_in_processes([png], tampered, use_store=False))


def test_a_metadata_model_is_analysed_with_what_the_image_says_and_names_the_rest(tmp_path):
    # the shipped HAM10000 model fuses age, sex and site: a photograph carries none of them
    rng = np.random.default_rng(1)
    photo = tmp_path / "lesion.png"
    Image.fromarray((rng.random((90, 120, 3)) * 255).astype(np.uint8)).save(photo)
    _, (result,) = _run([photo], SHIPPED_DIR / "ham10000-sa-meta.onnx")
    assert result.status == "ok", result.reason
    assert "patient age, sex, site unknown" in result.reason
    assert result.heatmap_kind == "soft-attention" and sum(result.probabilities.values()) == pytest.approx(1, abs=1e-4)

