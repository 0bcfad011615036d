"""The AI panel under pytest-qt: image, study and folder analysis, overlay, intended use, refused models, cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QPointF, QSettings, Qt  # noqa: E402

from medvision_app.gui.main_window import MainWindow  # noqa: E402
from medvision_app.gui.model_manager import ModelManagerDialog  # noqa: E402
from medvision_app.gui.workers import running_workers  # noqa: E402
from medvision_app.inference.registry import SHIPPED_DIR, ModelRegistry  # noqa: E402
from medvision_app.inference.results_store import ResultsStore  # noqa: E402
from medvision_app.samples import ensure_sample_study  # noqa: E402

TIMEOUT = 30000
DEMO = "breastmnist"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return ensure_sample_study(tmp_path_factory.mktemp("cache") / "sample")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDVISION_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDVISION_DEVICE", "cpu")
    return tmp_path / "home"


def _window(qtbot, tmp_path, name="settings.ini"):
    win = MainWindow(QSettings(str(tmp_path / name), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitUntil(lambda: win.ai.selected_entry() is not None, timeout=TIMEOUT)
    assert win.ai.select_model(DEMO)
    return win


@pytest.fixture
def window(qtbot, tmp_path, home):
    win = _window(qtbot, tmp_path)
    yield win
    win.ai.cancel()
    win.browser.cancel_scan()
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)


def _open(qtbot, win, paths, n=1):
    win.open_paths(paths)
    qtbot.waitUntil(lambda: not win.browser.is_scanning() and not win.grid.is_loading()
                    and sum(v.image is not None for v in win.grid.visible_viewports()) >= n, timeout=TIMEOUT)


def _ultrasound_png(path: Path, size=(120, 160), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.normal(90, 20, size)
    pixels[40:80, 60:110] = 20  # a dark lesion-like blob
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


def _analyse(qtbot, panel, start):
    start()
    qtbot.waitUntil(lambda: panel.busy, timeout=TIMEOUT) if not panel.results() else None
    qtbot.waitUntil(lambda: not panel.busy, timeout=TIMEOUT)


def test_analyse_image_shows_probabilities_status_and_heatmap(qtbot, window, tmp_path):
    png = _ultrasound_png(tmp_path / "us.png")
    _open(qtbot, window, [png])
    panel = window.ai
    assert panel.disclaimer.isVisible() and "Not a diagnosis" in panel.disclaimer.text()
    _analyse(qtbot, panel, panel.analyse_image)
    (result,) = panel.results()
    assert result.status == "ok" and result.heatmap_kind == "cam"
    bars = panel.bars.values()
    assert set(bars) == {"malignant", "normal, benign"} and sum(bars.values()) == pytest.approx(1000, abs=2)
    assert "succeeded" in panel.current_status.text() and result.predicted in panel.current_status.text()
    overlay = panel.overlay_for(window.grid.active)
    assert overlay.shown and overlay.badge.text() == "AI: succeeded"
    # the shipped breast model has one class activation map, nothing to choose between
    choice = panel.overlay_controls.map_choice
    assert choice.count() == 1 and choice.itemText(0) == "Class activation map"


def test_a_soft_attention_model_offers_each_of_its_maps(qtbot, window, tmp_path):
    torch = pytest.importorskip("torch")
    from inference_support import TinyAttentionNet, tiny_card

    from medvision_app.inference.export import export_module

    torch.manual_seed(0)
    card = tiny_card(classes=("malignant", "normal, benign"))
    card.name = "tiny-attention"
    images = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    path, _ = export_module(TinyAttentionNet(k=3), card, images, tmp_path / "tiny-attention.onnx")
    ModelRegistry().import_model(path)  # exported here, so signed by this installation
    panel = window.ai
    panel.refresh_models()
    qtbot.waitUntil(lambda: panel.select_model("tiny-attention"), timeout=TIMEOUT)
    _open(qtbot, window, [_ultrasound_png(tmp_path / "us.png")])
    _analyse(qtbot, panel, panel.analyse_image)
    (result,) = panel.results()
    assert result.status == "ok" and result.heatmap_kind == "soft-attention"
    assert result.attention_maps.shape[0] == 3
    choice = panel.overlay_controls.map_choice
    assert [choice.itemText(i) for i in range(choice.count())] == [
        "Mean of the maps", "Attention map 1", "Attention map 2", "Attention map 3"]
    overlay = panel.overlay_for(window.grid.active)
    mean = overlay.item.image.copy()
    choice.setCurrentIndex(2)  # the second map alone
    assert overlay.style.map_index == 1 and not np.array_equal(overlay.item.image, mean)


def _scene_point_of_original_pixel(item, row, col, shape_of_item_grid, original_shape):
    """Scene position of the centre of an original pixel, through an item whose grid covers the image."""
    sy = shape_of_item_grid[0] / original_shape[0]
    sx = shape_of_item_grid[1] / original_shape[1]
    return item.mapToScene(QPointF((col + 0.5) * sx, (row + 0.5) * sy))


def test_overlay_follows_zoom_rotation_flips_and_toggles(qtbot, window, tmp_path):
    png = _ultrasound_png(tmp_path / "us.png", size=(100, 180))
    _open(qtbot, window, [png])
    panel = window.ai
    _analyse(qtbot, panel, panel.analyse_image)
    viewport = window.grid.active
    overlay = panel.overlay_for(viewport)
    result = panel.results()[0]
    heat = overlay.item.image
    original = result.original_shape
    assert heat.shape[:2] == (100, 180)  # the registered grid covers the original field of view

    def check():
        # the overlay's cell for an original pixel lands where the image's own pixel is, on screen
        for row, col in ((10, 20), (70, 150)):
            base = _scene_point_of_original_pixel(viewport.item, row, col, viewport.item.image.shape, original)
            over = _scene_point_of_original_pixel(overlay.item, row, col, heat.shape, original)
            assert abs(base.x() - over.x()) < 1e-6 and abs(base.y() - over.y()) < 1e-6
        assert overlay.item.sceneBoundingRect() == viewport.item.sceneBoundingRect()

    check()
    viewport.rotate()
    check()
    viewport.flip_horizontal()
    check()
    viewport.flip_vertical()
    viewport.zoom_by(2.0)
    viewport.box.translateBy(x=15, y=-7)
    check()
    # H hides and shows the heatmap; opacity is the item's; a threshold clears low cells
    window.ai.toggle_heatmap_action.trigger()
    assert not overlay.shown
    window.ai.toggle_heatmap_action.trigger()
    assert overlay.shown
    panel.overlay_controls.opacity.setValue(80)
    assert overlay.item.opacity() == pytest.approx(0.8)
    before = int((overlay.item.image[..., 3] > 0).sum())
    panel.overlay_controls.threshold.setValue(90)
    assert int((overlay.item.image[..., 3] > 0).sum()) < before
    # one class activation map: nothing to choose (each Soft-Attention map: the test below)
    assert not panel.overlay_controls.map_choice.isEnabled() and overlay.style.map_index is None


def test_four_view_study_outside_intended_use_then_override(qtbot, window, sample):
    _open(qtbot, window, [sample], n=4)
    qtbot.waitUntil(lambda: all(v.image is not None for v in window.grid.visible_viewports()), timeout=TIMEOUT)
    panel = window.ai
    _analyse(qtbot, panel, panel.analyse_study)
    results = panel.results()
    mammograms = [r for r in results if r.view]
    assert {r.view for r in mammograms} == {"RCC", "LCC", "RMLO", "LMLO"}
    assert all(r.status == "outside_intended_use" and not r.analysed for r in mammograms)
    badges = [panel.overlay_for(v).badge.text() for v in window.grid.visible_viewports()]
    assert badges == ["AI: outside intended use"] * 4
    assert not any(panel.overlay_for(v).shown for v in window.grid.visible_viewports())
    assert panel.exam_label.text() == ""

    panel.override_box.setChecked(True)
    _analyse(qtbot, panel, panel.analyse_study)
    mammograms = [r for r in panel.results() if r.view]
    assert all(r.analysed and r.research_override for r in mammograms)
    best = max(mammograms, key=lambda r: r.score)
    assert f"{best.score:.3f}" in panel.exam_label.text() and best.view in panel.exam_label.text()
    assert all(panel.overlay_for(v).shown for v in window.grid.visible_viewports())
    assert "research override" in panel.overlay_for(window.grid.viewports[0]).badge.text()
    assert panel.table.rowCount() == len(panel.results())


def test_folder_table_sorts_opens_and_exports(qtbot, window, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    for k in range(3):
        _ultrasound_png(folder / f"img{k}.png", seed=k)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    panel = window.ai
    panel.analyse_folder(folder)
    qtbot.waitUntil(lambda: len(panel.results()) == 4 and not panel.busy, timeout=TIMEOUT)
    table = panel.table
    assert table.rowCount() == 4
    statuses = sorted(table.item(r, 2).text() for r in range(4))
    assert statuses == ["failed", "succeeded", "succeeded", "succeeded"]
    table.sortItems(4, Qt.SortOrder.DescendingOrder)
    probs = [table.item(r, 4).data(Qt.ItemDataRole.DisplayRole) for r in range(4)]
    numbers = [p for p in probs if isinstance(p, float)]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 3
    row = next(r for r in range(4) if table.item(r, 0).text() == "img1.png")
    table.cellDoubleClicked.emit(row, 0)
    qtbot.waitUntil(lambda: window.grid.active.image is not None
                    and Path(window.grid.active.image.path).name == "img1.png", timeout=TIMEOUT)
    out = panel.export_csv(tmp_path / "results.csv")
    lines = out.read_text().splitlines()
    assert lines[0].startswith("file,view,status") and len(lines) == 5
    assert any("broken.png" in line and ",failed," in line for line in lines)


def test_refused_model_is_listed_but_cannot_be_chosen(qtbot, tmp_path, home):
    user = home / "models"
    user.mkdir(parents=True)
    data = bytearray((SHIPPED_DIR / f"{DEMO}.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the weights
    (user / "tampered.onnx").write_bytes(bytes(data))
    win = _window(qtbot, tmp_path)
    panel = win.ai
    names = [panel.model_combo.itemText(i) for i in range(panel.model_combo.count())]
    assert any("tampered" in n and "REFUSED" in n for n in names)
    index = next(i for i, n in enumerate(names) if "tampered" in n)
    assert not panel.model_combo.model().item(index).isEnabled()
    assert not panel.select_model("tampered") and panel.selected_entry().name == DEMO

    dialog = ModelManagerDialog(ModelRegistry())
    qtbot.addWidget(dialog)
    row = next(i for i, e in enumerate(dialog.entries) if e.name == "tampered")
    dialog.list.setCurrentRow(row)
    assert "refused" in dialog.card_view.toPlainText() and "cannot be chosen" in dialog.card_view.toPlainText()
    dialog.verify_selected()
    assert "REFUSED" in dialog.message.text()
    dialog.remove_selected()
    assert "tampered" not in [e.name for e in dialog.entries]
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)


def test_model_manager_shows_the_card_and_imports(qtbot, tmp_path, home):
    dialog = ModelManagerDialog(ModelRegistry())
    qtbot.addWidget(dialog)
    dialog.list.setCurrentRow(next(i for i, e in enumerate(dialog.entries) if e.name == DEMO))
    text = dialog.card_view.toPlainText()
    for fact in ("Modality", "US", "breast", "auc", "CI", "Operating threshold", "sha256", "Provenance", "BreastMNIST"):
        assert fact.lower() in text.lower(), fact
    copy = tmp_path / "mine.onnx"
    shutil.copyfile(SHIPPED_DIR / f"{DEMO}.onnx", copy)
    assert dialog.import_files([copy]) == [home / "models" / "mine.onnx"]
    assert "mine" in [e.name for e in dialog.entries]
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"nope")
    assert dialog.import_files([junk]) == [] and "refused" in dialog.message.text()


def test_results_stay_after_reopening_and_clear_removes_them(qtbot, tmp_path, home):
    png = _ultrasound_png(tmp_path / "us.png")
    first = _window(qtbot, tmp_path, "a.ini")
    _open(qtbot, first, [png])
    _analyse(qtbot, first.ai, first.ai.analyse_image)
    original = first.ai.results()[0]
    assert not original.cached
    first.close()
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)

    second = _window(qtbot, tmp_path, "b.ini")
    _open(qtbot, second, [png])
    qtbot.waitUntil(lambda: len(second.ai.results()) == 1, timeout=TIMEOUT)
    cached = second.ai.results()[0]
    assert cached.cached and cached.probabilities == pytest.approx(original.probabilities)
    assert second.ai.overlay_for(second.grid.active).shown  # the heatmap came back too
    assert "cached" in second.ai.current_status.text()
    second.ai.clear_results()
    assert second.ai.results() == [] and ResultsStore().count() == 0
    assert not second.ai.overlay_for(second.grid.active).shown
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)


def test_first_run_shows_an_ultrasound_prediction_with_its_heatmap(qtbot, tmp_path, home):
    from medvision_app.samples import sample_folder

    win = _window(qtbot, tmp_path)
    win.open_sample()
    panel = win.ai
    busi = sorted(sample_folder("busi").glob("*.png"))
    assert 1 <= len(busi) <= 10
    qtbot.waitUntil(lambda: len(panel.results()) >= len(busi) and not panel.busy, timeout=60000)
    ultrasound = [r for r in panel.results() if Path(r.path).parent == busi[0].parent]
    assert len(ultrasound) == len(busi) and all(r.status == "ok" and r.heatmap is not None for r in ultrasound)
    mammograms = [r for r in panel.results() if r.view]
    assert mammograms and all(r.status == "outside_intended_use" for r in mammograms)
    qtbot.waitUntil(lambda: panel.preview.pixmap() is not None and not panel.preview.pixmap().isNull(),
                    timeout=TIMEOUT)
    assert busi[0].stem.split("-")[0] in panel.table.item(panel.table.currentRow(), 0).text()
    assert "succeeded" in panel.current_status.text()
    qtbot.waitUntil(lambda: running_workers() == 0, timeout=TIMEOUT)
