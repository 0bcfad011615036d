"""A preprocessing pipeline: an ordered list of operations saved as JSON or TOML.

Example (TOML)::

    description = "AlexNet: contrast stretch, 227 x 227"

    [[steps]]
    op = "contrast_stretch"

    [[steps]]
    op = "resize"
    params = { height = 227, width = 227, mode = "stretch" }
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medvision_app.events import CancelToken
from medvision_app.preprocessing.geometry import Geometry
from medvision_app.preprocessing.intensity import _check_image
from medvision_app.preprocessing.registry import get_op
from medvision_app.utils.config_io import ConfigError
from medvision_app.utils.config_schema import option

__all__ = ["StepConfig", "PipelineConfig", "apply_pipeline"]


@dataclass
class StepConfig:
    """One step: an operation name from :data:`~medvision_app.preprocessing.registry.OPS` and its parameters."""

    op: str = option(help="Operation name from the preprocessing registry.")
    params: dict[str, Any] = option(help="The operation's parameters; missing ones take their defaults.",
                                    default_factory=dict)


@dataclass
class PipelineConfig:
    """Steps run in order by :func:`apply_pipeline`; checked when built."""

    steps: list[StepConfig] = option(help="Operations run in order.", default_factory=list)
    description: str = option("", help="A note saved with the pipeline.")

    def __post_init__(self) -> None:
        self.resolved()

    def resolved(self) -> list[tuple[str, dict[str, Any]]]:
        """Each step's op name and full, checked parameters; ConfigError names the step."""
        out = []
        for index, step in enumerate(self.steps, start=1):
            try:
                out.append((step.op, get_op(step.op).resolve(step.params)))
            except ValueError as exc:
                raise ConfigError(f"step {index} ({step.op}): {exc}") from None
        return out


def apply_pipeline(image: np.ndarray, config: PipelineConfig, *,
                   cancel: CancelToken | None = None) -> tuple[np.ndarray, Geometry]:
    """Run the steps of ``config`` on ``image``.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Usually ``MedicalImage.display_float(0)`` (float32 in [0, 1]). Not
        modified.
    config : PipelineConfig
    cancel : CancelToken, optional
        Checked between steps.

    Returns
    -------
    out : ndarray
        The last step's output (float32 for every operation but ``invert`` and
        ``crop_foreground``, which keep the dtype). An empty pipeline returns
        a copy of the input.
    geometry : Geometry
        Input to output map composed over all steps: use
        ``geometry.to_original(heatmap)`` to bring a model-space map back.

    Raises
    ------
    ConfigError
        A step's parameters do not fit the image (naming the step).
    """
    image = _check_image(image)
    out = np.array(image, copy=True)
    geometry = Geometry.identity(image.shape)
    for index, (name, params) in enumerate(config.resolved(), start=1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            out, step_geometry = get_op(name).run(out, **params)
        except ValueError as exc:
            raise ConfigError(f"step {index} ({name}): {exc}") from None
        geometry = geometry.then(step_geometry)
    return out, geometry
