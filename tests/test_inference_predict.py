"""predict(): the card's preprocessing, probabilities, and heatmaps registered to the original image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from inference_support import TinyAttentionNet, breastmnist_batch, tiny_card
from PIL import Image

from medvision_app.imaging import ImageOpenError
from medvision_app.inference import ModelError, load_model, predict
from medvision_app.inference.export import export_module


def _pipeline(mode: str, size: int = 28) -> dict:
    return {"steps": [{"op": "resize", "params": {"height": size, "width": size, "mode": mode}}]}


@pytest.fixture(scope="module")
def symmetric_models(tmp_path_factory, shared_data):
    """The same flip-equivariant attention net exported with a letterbox and a centre-crop pipeline."""
    images, _ = breastmnist_batch(shared_data, 4)
    folder = tmp_path_factory.mktemp("sym")
    net = TinyAttentionNet(symmetric=True)
    models = {}
    for mode in ("pad", "crop"):
        path, _ = export_module(net, tiny_card(preprocessing=_pipeline(mode)), images, folder / f"{mode}.onnx")
        models[mode] = load_model(path)
    return models


def _blob_image(shape=(120, 80), centre=(40, 60), sigma=3.0) -> np.ndarray:
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * sigma**2)).astype(np.float32)


@pytest.mark.parametrize("mode", ["pad", "crop"])
def test_heatmap_is_aligned_with_the_original_after_crop_and_pad(symmetric_models, mode):
    image = _blob_image()
    pred = predict(image, symmetric_models[mode])
    assert pred.heatmap_kind == "soft-attention"
    assert pred.heatmap.shape == image.shape
    assert 0.0 <= pred.heatmap.min() and pred.heatmap.max() <= 1.0
    peak = np.unravel_index(np.argmax(pred.heatmap), pred.heatmap.shape)
    # one model pixel covers about 120 / 28 = 4.3 original pixels
    assert abs(peak[0] - 40) <= 5 and abs(peak[1] - 60) <= 5
    if mode == "crop":
        # 120 x 80 -> 42 x 28, centre-cropped to 28 rows: rows outside ~20..100 were never seen
        assert np.all(pred.heatmap[:15] == 0) and np.all(pred.heatmap[105:] == 0)


@pytest.mark.parametrize("mode", ["pad", "crop"])
def test_heatmap_of_flipped_input_is_flipped_heatmap(symmetric_models, shared_data, mode):
    busi = np.asarray(Image.open(shared_data / "busi-256" / "malignant" / "malignant (1).png").convert("L"))
    image = (busi[:, 20:230].astype(np.float32) / 255.0)  # non-square, so padding / cropping happen
    straight = predict(image, symmetric_models[mode]).heatmap
    flipped = predict(image[:, ::-1].copy(), symmetric_models[mode]).heatmap
    diff = np.abs(flipped - straight[:, ::-1])
    assert straight.max() == pytest.approx(1.0)
    assert diff.mean() < 0.01 and diff.max() < 0.1


def test_prediction_fields_and_timings(symmetric_models, shared_data):
    images, _ = breastmnist_batch(shared_data, 1)
    pred = predict(images[0, 0], symmetric_models["pad"])
    assert set(pred.probabilities) == {"malignant", "benign"}
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert pred.predicted == max(pred.probabilities, key=pred.probabilities.get)
    assert pred.provider == "CPUExecutionProvider"
    assert pred.model.startswith("tiny v1 (")
    assert set(pred.timings) == {"open", "preprocess", "infer", "heatmap"}
    assert all(t >= 0 for t in pred.timings.values())
    assert predict(images[0, 0], symmetric_models["pad"], heatmap=False).heatmap is None


def test_preprocessing_is_the_training_loaders_and_predict_matches_pytorch(tmp_path, shared_data):
    from medvision_app.data.dataset import InMemoryDataset
    from medvision_app.data.images import to_model_input
    from medvision_app.inference.predict import preprocess
    from medvision_app.preprocessing import apply_pipeline

    torch.manual_seed(3)
    net = TinyAttentionNet(in_channels=3).eval()
    card = tiny_card(size=(32, 32), channels=3, preprocessing=_pipeline("pad", 40))
    card.input_mean, card.input_std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    images, labels = breastmnist_batch(shared_data, 3)
    # what training feeds the network: pipeline, to_model_input (uint8), dataset normalisation
    cached = np.stack([to_model_input(apply_pipeline(img[0], card.pipeline())[0], 32, 3) for img in images])
    dataset = InMemoryDataset(cached, labels, mean=card.input_mean, std=card.input_std)
    trained_on = dataset.batch(torch.arange(3))[0].numpy()
    batch = np.stack([preprocess(img[0], card)[0] for img in images])
    np.testing.assert_allclose(batch, trained_on, atol=1e-6)
    path, _ = export_module(net, card, batch, tmp_path / "rgb.onnx")
    model = load_model(path)
    for img, x in zip(images, batch, strict=False):
        with torch.no_grad():
            ref = torch.softmax(net(torch.from_numpy(x[None])), dim=1)[0].numpy()
        got = np.array(list(predict(img[0], model).probabilities.values()))
        assert np.max(np.abs(got - ref)) <= 1e-4


def test_predict_from_dicom_and_png_files(symmetric_models, shared_data, tmp_path):
    dicom = shared_data / "dicom-codecs" / "pylibjpeg-data" / "RLELossless__emri_small_RLE.dcm"
    pred = predict(dicom, symmetric_models["pad"])
    assert pred.source == str(dicom)
    assert pred.heatmap is not None and pred.heatmap.ndim == 2
    png = shared_data / "busi-256" / "benign" / "benign (1).png"
    assert predict(png, symmetric_models["pad"]).heatmap.shape == Image.open(png).size[::-1]


def test_corrupt_dicom_raises_image_open_error(symmetric_models, shared_data, tmp_path):
    bad = tmp_path / "broken.dcm"
    good = (shared_data / "dicom-codecs" / "pylibjpeg-data" / "RLELossless__emri_small_RLE.dcm").read_bytes()
    bad.write_bytes(good[: len(good) // 3])
    with pytest.raises(ImageOpenError) as err:
        predict(bad, symmetric_models["pad"])
    assert str(err.value).startswith(str(bad))


def test_metadata_model_requires_metadata(tmp_path, shared_data):
    images, _ = breastmnist_batch(shared_data, 2)
    card = tiny_card(metadata_features=2, preprocessing=_pipeline("pad"))
    path, _ = export_module(TinyAttentionNet(metadata_features=2), card, images, tmp_path / "m.onnx",
                            metadata=np.zeros((2, 2), np.float32))
    model = load_model(path)
    with pytest.raises(ModelError, match="needs 2 patient metadata features"):
        predict(images[0, 0], model)
    pred = predict(images[0, 0], model, metadata=np.array([0.5, 1.0]))
    assert sum(pred.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
