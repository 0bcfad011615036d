"""Decode images in helper processes so the GUI's event loop never waits on the GIL.

Some decoders hold Python's GIL for their whole run (decoding one CBIS-DDSM
mammogram held it for 25-170 ms here), and a thread would stall the event loop
for that long. A helper process decodes and prepares the image; the pixels
come back through shared memory (no copy, no pickling of 25 MB), the rest
(metadata, the reduced display image, the histogram) by pickle.

``load_for_view`` blocks, so it is called from a QThreadPool worker; waiting
on the process releases the GIL. When helper processes cannot start, it
decodes in the calling thread instead.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import multiprocessing
import os
import threading
import time
import weakref
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import resource_tracker, shared_memory
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from medvision_app.imaging import ImageOpenError, MedicalImage, open_image
from medvision_app.imaging.viewing import PreparedFrame, prepare_frame, thumbnail

log = logging.getLogger(__name__)
_lock = threading.Lock()
_pool: Optional[ProcessPoolExecutor] = None
_broken = False
_closed = False  # after shutdown() until the next warm_up(): decode in threads, start no helper
_crash_listeners: list = []  # callables returning a listener or None (weak references)
PROCESSES = 2


def _executor() -> Optional[ProcessPoolExecutor]:
    global _pool, _broken
    with _lock:
        if _pool is None and not _broken and not _closed:
            try:
                # spawn, not fork: forking a process that runs Qt threads is unsafe.
                _pool = ProcessPoolExecutor(
                    PROCESSES, mp_context=multiprocessing.get_context("spawn"), initializer=_init_helper,
                    initargs=(os.getpid(),),
                )
            except (OSError, ValueError) as exc:
                log.warning("decoding in threads: helper processes unavailable (%s)", exc)
                _broken = True
        return _pool


def warm_up() -> None:
    """Start the helper processes now (they take about a second to import the imaging stack)."""
    global _closed
    with _lock:
        _closed = False
    # The GUI thread re-renders reduced images with OpenCV; its first use
    # imported cv2 there (80-130 ms, the longest freeze while a study loaded).
    # Here, before the window, and not in a thread: cv2's import puts its own
    # folder first on sys.path for a while, and a helper spawned meanwhile
    # took cv2/typing for the standard typing module and died.
    _import_display_kernels()
    pool = _executor()
    if pool is not None:
        try:
            for _ in range(PROCESSES):
                pool.submit(_ping)
        except BrokenProcessPool as exc:
            _report_crash("while starting", exc)
            _discard(pool)


def on_helper_crash(callback: Callable[[str], None]) -> None:
    """Call ``callback(message)`` (from whichever thread saw it) each time a helper process dies.

    A bound method is held weakly, so a window that registers itself does not
    outlive its close.
    """
    ref = weakref.WeakMethod(callback) if inspect.ismethod(callback) else (lambda: callback)
    with _lock:
        _crash_listeners.append(ref)


def _report_crash(what: str, exc: BaseException) -> None:
    message = f"A decoder helper process stopped unexpectedly {what}; a fresh one takes its place"
    log.error("%s (%s)", message, exc)
    with _lock:
        listeners = [ref() for ref in _crash_listeners]
        _crash_listeners[:] = [ref for ref, cb in zip(_crash_listeners, listeners, strict=True) if cb is not None]
    for callback in listeners:
        if callback is not None:
            try:
                callback(message)
            except Exception:  # noqa: BLE001 - a listener's failure must not hide the crash from the others
                log.exception("helper-crash listener failed")


def _import_display_kernels() -> None:
    from medvision_app.imaging import display

    display._cv2()  # noqa: SLF001 - loads the optional OpenCV kernels once


def _discard(pool: ProcessPoolExecutor) -> None:
    """Drop a pool whose helper died (a decoder crash), so the next call starts a fresh one."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def shutdown(*, wait: bool = False) -> None:
    """Stop the helpers; until the next :func:`warm_up`, decode in the calling thread.

    A job that outlived the event loop used to start a fresh helper pool
    while the interpreter was shutting down. ``wait=True`` (the app's exit,
    once no job is left) waits for the idle helpers to leave, so that the
    interpreter's own exit has no pool left to wind down.
    """
    global _pool, _closed
    with _lock:
        _closed = True
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=wait, cancel_futures=True)


def _init_helper(parent_pid: int) -> None:
    # Decoding is background work: on a busy machine the GUI process gets the CPU first.
    try:
        os.nice(5)
    except OSError:
        pass
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _exit_with_parent(parent_pid: int, interval: float = 1.0) -> None:
    """Leave when the GUI process is gone (killed, crashed): an orphaned helper would wait forever.

    Polling, not PR_SET_PDEATHSIG: that signal follows the thread that started
    the helper, and the pool thread that did may retire while the app runs on.
    """
    while os.getppid() == parent_pid:
        time.sleep(interval)
    os._exit(0)


def _ping() -> bool:
    return True


def _child_load(path: str, max_side: int):
    try:
        image = open_image(path)
    except ImageOpenError as exc:
        # Exceptions with extra constructor arguments do not survive pickling.
        return ("error", str(exc.path), exc.reason)
    prepared = prepare_frame(image, 0, max_side=max_side)
    frames = np.ascontiguousarray(image.frames)
    shm = shared_memory.SharedMemory(create=True, size=max(frames.nbytes, 1))
    np.ndarray(frames.shape, frames.dtype, buffer=shm.buf)[...] = frames
    # The parent owns the block from here: stop this process's tracker from removing it.
    resource_tracker.unregister(shm._name, "shared_memory")  # noqa: SLF001
    name = shm.name
    shm.close()
    header = dataclasses.replace(image, frames=np.empty((0,), frames.dtype))
    return ("ok", header, name, frames.shape, frames.dtype.str, prepared)


def _child_thumbnail(path: str, size: int):
    try:
        return ("ok", thumbnail(path, size))
    except ImageOpenError as exc:
        return ("error", str(exc.path), exc.reason)


def _attach(header: MedicalImage, name: str, shape, dtype: str) -> MedicalImage:
    shm = shared_memory.SharedMemory(name=name)
    # Unlinking right away frees the memory when the last mapping goes, however the app ends.
    shm.unlink()
    frames = np.ndarray(tuple(shape), np.dtype(dtype), buffer=shm.buf)
    frames.flags.writeable = False
    image = dataclasses.replace(header, frames=frames)
    image._shared_memory = shm  # keeps the mapping alive as long as the image
    return image


def load_for_view(path: Path, max_side: int = 1200) -> tuple[MedicalImage, PreparedFrame]:
    """Decode ``path`` and prepare frame 0 for a viewport; raises ImageOpenError."""
    result = _in_helper(path, _child_load, str(path), max_side)
    if result is None:
        image = open_image(path)
        return image, prepare_frame(image, 0, max_side=max_side)
    _, header, name, shape, dtype, prepared = result
    return _attach(header, name, shape, dtype), prepared


def load_thumbnail(path: Path, size: int) -> np.ndarray:
    """A uint8 thumbnail of ``path``, decoded in a helper process when possible."""
    result = _in_helper(path, _child_thumbnail, str(path), size)
    return thumbnail(path, size) if result is None else result[1]


def _in_helper(path: Path, func, *args):
    """``func(*args)`` in a helper: its ``("ok", ...)`` tuple, or None when no helper could run it.

    A helper that dies on a file (a crashing decoder) makes that file an
    ImageOpenError rather than retrying it in the GUI's own process.
    """
    for attempt in range(2):
        pool = _executor()
        if pool is None:
            return None
        try:
            result = pool.submit(func, *args).result()
            break
        except BrokenProcessPool as exc:
            # Another file may have killed the helper: retry once on a fresh pool.
            _report_crash(f"while decoding {Path(path).name}", exc)
            _discard(pool)
            if attempt == 1:
                raise ImageOpenError(path, "the image decoder stopped unexpectedly on this file") from exc
    if result[0] == "error":
        raise ImageOpenError(result[1], result[2])
    return result
