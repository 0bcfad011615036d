"""The ONNX Runtime session: the right provider, quiet logs, sized threads.

onnxruntime-gpu lists CUDA among its providers even on machines without a GPU
and then logs loud errors when a CUDA session is attempted, so CUDA is asked
for only when an NVIDIA device is really present. The provider actually used
is what the session reports, not what was asked for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

# ORT severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal.
_QUIET = 3


def cpu_threads() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def cuda_device_present() -> bool:
    """True when an NVIDIA GPU and its driver are visible to this process."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/proc/driver/nvidia/version").exists() or Path("/dev/nvidia0").exists()


def choose_providers(device: str = "auto") -> list[str]:
    """Execution providers to ask for.

    ``device`` is ``"auto"`` or ``"cuda"`` (CUDA when an NVIDIA device is
    present, with CPU for the operators CUDA lacks; else CPU alone) or
    ``"cpu"``. The environment variable ``MEDVISION_DEVICE`` overrides
    ``"auto"``. CUDA is never asked for without a device: onnxruntime would
    only log errors and fall back.
    """
    import onnxruntime as ort

    if device == "auto":
        device = os.environ.get("MEDVISION_DEVICE", "auto").lower()
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    wants_cuda = device in ("auto", "cuda") and cuda_device_present()
    if wants_cuda and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class Session:
    """An ``onnxruntime.InferenceSession`` with MedVision's defaults.

    Parameters
    ----------
    model : bytes
        The serialised ONNX model (already verified by the loader: the session
        is built from the very bytes that were checked, never re-read).
    device : str
        See :func:`choose_providers`.
    threads : int, optional
        Intra-op threads; default :func:`cpu_threads`.
    """

    def __init__(self, model: bytes, *, device: str = "auto", threads: Optional[int] = None) -> None:
        import onnxruntime as ort

        ort.set_default_logger_severity(_QUIET)
        options = ort.SessionOptions()
        options.log_severity_level = _QUIET
        options.intra_op_num_threads = threads or cpu_threads()
        # One graph at a time: parallel branches would only fight for the same cores.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(model, sess_options=options, providers=choose_providers(device))
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]
        self._inputs = {i.name: i for i in self._session.get_inputs()}

    @property
    def provider(self) -> str:
        """The provider actually used (the first the session accepted)."""
        return self._session.get_providers()[0]

    def input_shape(self, name: Optional[str] = None) -> list:
        return list(self._inputs[name or self.input_names[0]].shape)

    def run(self, feeds: dict[str, np.ndarray], outputs: Optional[Sequence[str]] = None) -> dict[str, np.ndarray]:
        """Run a batch; returns output name -> array."""
        names = list(outputs) if outputs else self.output_names
        values = self._session.run(names, feeds)
        return dict(zip(names, values, strict=False))

    def warm_up(self, runs: int = 1) -> None:
        """Run zeros through the graph once so the first real image is not slow."""
        feeds = {}
        for name, meta in self._inputs.items():
            shape = [1 if not isinstance(d, int) or d < 1 else d for d in meta.shape]
            feeds[name] = np.zeros(shape, dtype=np.float32)
        for _ in range(runs):
            self._session.run(None, feeds)

    @property
    def raw(self):
        """The underlying ``onnxruntime.InferenceSession`` (benchmarks compare against it)."""
        return self._session
