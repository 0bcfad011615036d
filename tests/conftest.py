"""Shared fixtures: where the real datasets are, and a skip when they are absent."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MEDVISION_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"

needs_shared = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"the real datasets in {DATA} are absent (a fresh clone has no ../shared)"
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"the real datasets in {DATA} are absent (a fresh clone has no ../shared)")
    return DATA


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a test module: on two cores shared with other work, several threads only contend."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session", autouse=True)
def _private_medvision_home(tmp_path_factory):
    """Tests never write into the real user data folder (models, the model-signing key, the job history).

    Tests that need their own folder still set ``MEDVISION_HOME`` themselves;
    this covers module-scoped fixtures (an export signs with the key it finds
    there) and tests that set nothing.
    """
    if os.environ.get("MEDVISION_HOME"):
        yield
        return
    os.environ["MEDVISION_HOME"] = str(tmp_path_factory.mktemp("medvision-home"))
    try:
        yield
    finally:
        os.environ.pop("MEDVISION_HOME", None)


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_main_thread(request):
    """Collect cyclic garbage on the main thread after each test.

    A widget left in a reference cycle by a GUI test is otherwise collected by
    whichever thread next crosses a GC threshold, and a worker thread
    destroying a Qt object crashes the process (the app itself collects on its
    GUI thread only: ``gui/gc_guard.py``, which also switches automatic
    collection off in a test process that built the app through create_app).
    """
    yield
    if "qtbot" in request.fixturenames or not gc.isenabled():
        gc.collect()
