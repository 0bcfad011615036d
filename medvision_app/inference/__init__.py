"""Trained models at the workstation: ONNX export, model cards, verified loading,
the runtime session, prediction and the model registry.

A model is one ``.onnx`` file that carries its own :class:`ModelCard`; it is
verified (graph hash, card against graph) every time it is loaded, and refused
with a :class:`ModelError` naming the file when anything does not match.
"""

from medvision_app.inference.card import MetricValue, ModelCard, TrainingData
from medvision_app.inference.errors import ModelError
from medvision_app.inference.model import LoadedModel, load_model, verify_model
from medvision_app.inference.predict import Prediction, predict

__all__ = [
    "LoadedModel",
    "MetricValue",
    "ModelCard",
    "ModelError",
    "Prediction",
    "TrainingData",
    "load_model",
    "predict",
    "verify_model",
]
