"""Analysis in helper processes, so the GUI's event loop never waits on the GIL.

Decoding a compressed mammogram and resizing it hold Python's GIL for tens to
hundreds of milliseconds; run in a thread of the GUI process, they stalled
the event loop for as long (a 268 ms gap while the four-view study was
analysed). Helper processes (spawned, one ONNX session each, kept warm
between analyses) run :meth:`Analyser.analyse_one`; the calling thread only
waits, which releases the GIL. Two helpers also analyse two images at once.

When helpers cannot start, :func:`analyse_in_processes` analyses in the
calling thread instead (:func:`~medvision_app.inference.analysis.analyse`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Iterator, Optional, Sequence

from medvision_app.events import CancelToken
from medvision_app.inference.analysis import ImageAnalysed, ImageResult, analyse

log = logging.getLogger(__name__)
PROCESSES = 2
IN_FLIGHT = 2 * PROCESSES  # enough to keep the helpers busy, few enough that Cancel stops soon

_lock = threading.Lock()
_pool: Optional[ProcessPoolExecutor] = None
_broken = False

# in a helper: (model path, its mtime) -> Analyser
_analysers: dict = {}


def _executor() -> Optional[ProcessPoolExecutor]:
    global _pool, _broken
    with _lock:
        if _pool is None and not _broken:
            try:
                # spawn, not fork: forking a process that runs Qt threads is unsafe.
                _pool = ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_init_helper, initargs=(os.getpid(),))
            except (OSError, ValueError) as exc:
                log.warning("analysing in threads: helper processes unavailable (%s)", exc)
                _broken = True
        return _pool


def warm_up() -> None:
    """Start the helpers now (about a second each), so the first analysis does not wait for them."""
    pool = _executor()
    if pool is not None:
        for _ in range(PROCESSES):
            pool.submit(_ping)


def shutdown() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)


def _ping() -> bool:
    return True


def _init_helper(parent_pid: int) -> None:
    # A helper outlives a parent that was killed; it leaves when the parent is gone.
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int, interval: float = 1.0) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval)
    os._exit(0)


def _child_analyser(model_path: str, database: Optional[str]):
    from medvision_app.inference.analysis import Analyser
    from medvision_app.inference.model import load_model
    from medvision_app.inference.results_store import ResultsStore

    key = (model_path, os.stat(model_path).st_mtime_ns, database)
    analyser = _analysers.get(key)
    if analyser is None:
        _analysers.clear()
        # One intra-op thread per helper: the helpers already use the cores side by side.
        model = load_model(model_path, threads=1)
        analyser = Analyser(model, store=ResultsStore(database) if database else None)
        _analysers[key] = analyser
    return analyser


def _child_prepare(model_path: str, database: Optional[str]) -> bool:
    from medvision_app.inference.errors import ModelError

    try:
        analyser = _child_analyser(model_path, database)
    except ModelError:
        return False
    _warm_pipeline(analyser)
    time.sleep(0.3)  # hold this helper a moment so the next prepare lands on the other one
    return True


def _warm_pipeline(analyser) -> None:
    """Run the whole path once on a small bundled file: the first image paid 5-7 s of imports
    (pydicom's decoders, scikit-image, the preprocessing steps) in a fresh helper here."""
    from pydicom.data import get_testdata_file

    from medvision_app.imaging import ImageOpenError, open_image
    from medvision_app.inference.predict import predict

    source = get_testdata_file("MR_small_RLE.dcm", download=False)  # bundled with pydicom: no network
    try:
        image = open_image(source) if source else None
        if image is not None:
            predict(image, analyser.model)
    except (ImageOpenError, ValueError, OSError) as exc:  # warming is best effort
        log.debug("warming the analysis helper: %s", exc)


def _child_analyse(model_path: str, path: str, research_override: bool, provenance: str,
                   database: Optional[str]):
    """An ImageResult, or ``("model-error", path, reason)`` for a refused model.

    ModelError takes two constructor arguments and does not survive pickling; the parent rebuilds it.
    """
    from medvision_app.inference.errors import ModelError

    try:
        analyser = _child_analyser(model_path, database)
    except ModelError as exc:
        return ("model-error", str(exc.path), exc.reason)
    analyser.provenance, analyser.research_override = provenance, research_override
    return analyser.analyse_one(path)


def _result(value) -> ImageResult:
    from medvision_app.inference.errors import ModelError

    if isinstance(value, tuple) and value and value[0] == "model-error":
        raise ModelError(value[1], value[2])
    return value


def prepare_model(model_path: str | Path, *, use_store: bool = True) -> None:
    """Load (verify, open a session on) the model in every helper now, so the first click only analyses."""
    from medvision_app.utils.paths import database_path

    pool = _executor()
    if pool is None:
        return
    database = str(database_path()) if use_store else None
    path = str(Path(model_path).resolve())
    try:
        futures = [pool.submit(_child_prepare, path, database) for _ in range(PROCESSES)]
        for future in futures:
            future.result()  # a refused model: False from the helper, reported when it is used
    except BrokenProcessPool:
        _discard(pool)
    except Exception as exc:  # noqa: BLE001 - a refused model is reported when it is used, with its reason
        log.debug("could not prepare %s in the helpers: %s", path, exc)


def preview_in_helper(result: ImageResult, side: int = 240):
    """:func:`~medvision_app.inference.analysis.preview_rgb` in a helper (it decodes the image again)."""
    from medvision_app.inference.analysis import preview_rgb

    pool = _executor()
    if pool is None:
        return preview_rgb(result, side)
    try:
        return pool.submit(preview_rgb, result, side).result()
    except BrokenProcessPool:
        _discard(pool)
        return preview_rgb(result, side)


def analyse_in_processes(
    paths: Sequence[str | Path],
    model_path: str | Path,
    *,
    research_override: bool = False,
    use_store: bool = True,
    provenance: Optional[str] = None,
    cancel: Optional[CancelToken] = None,
) -> Iterator[ImageAnalysed]:
    """Like :func:`~medvision_app.inference.analysis.analyse` (same events, same return), in helper processes.

    Raises ``ModelError`` (before any image) when the model is refused.
    """
    from medvision_app.inference.provenance_view import model_provenance
    from medvision_app.utils.paths import database_path

    pool = _executor()
    if pool is None:
        return (yield from analyse(paths, model_path, research_override=research_override, use_store=use_store,
                                   provenance=provenance, cancel=cancel))
    # No verification here: parsing and checking the ONNX graph holds the GIL (a 266 ms event-loop
    # gap at the click); each helper verifies the file when it loads it, and a refused model's
    # ModelError comes back through the first image's future, before any result.
    provenance = provenance or model_provenance(model_path)
    database = str(database_path()) if use_store else None
    model_path = str(Path(model_path).resolve())
    paths = [str(p) for p in paths]
    results: list[ImageResult] = []
    pending: deque = deque()
    submitted = 0
    try:
        while len(results) < len(paths):
            while submitted < len(paths) and len(pending) < IN_FLIGHT:
                try:
                    future = pool.submit(_child_analyse, model_path, paths[submitted], research_override,
                                         provenance, database)
                except BrokenProcessPool:  # a helper died between two images: the result() below reports it
                    future = _failed_future()
                pending.append(future)
                submitted += 1
            if cancel is not None:
                cancel.raise_if_cancelled()
            try:
                result = _result(pending.popleft().result())
            except BrokenProcessPool:
                # The image in front crashed its helper (or one beside it did): it is reported failed,
                # the others are submitted again to fresh helpers.
                _discard(pool)
                result = ImageResult(path=paths[len(results)], status="failed",
                                     reason="the analysis helper stopped unexpectedly on this image",
                                     provenance=provenance)
                for future in pending:
                    future.cancel()
                pending.clear()
                submitted = len(results) + 1
                pool = _executor()
                if pool is None:
                    results.append(result)
                    yield ImageAnalysed(len(results), len(paths), result)
                    break
            results.append(result)
            yield ImageAnalysed(len(results), len(paths), result)
    finally:
        for future in pending:
            future.cancel()
    if len(results) < len(paths):  # helpers could not be restarted: finish in this thread
        rest = yield from analyse(paths[len(results):], model_path, research_override=research_override,
                                  use_store=use_store, provenance=provenance, cancel=cancel)
        results.extend(rest)
    return results


def _failed_future():
    from concurrent.futures import Future

    future: Future = Future()
    future.set_exception(BrokenProcessPool("the helper processes stopped"))
    return future


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)
