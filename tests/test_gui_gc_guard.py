"""Cyclic garbage holding Qt objects is collected on the GUI thread, not by whichever thread allocates."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject

from medvision_app.gui.gc_guard import GuiThreadGarbageCollector


def test_cycles_are_collected_by_the_gui_thread_timer_and_never_by_a_worker(qtbot, qapp):
    parent = QObject()
    collector = GuiThreadGarbageCollector(parent, interval_ms=20)
    try:
        assert not gc.isenabled()
        collector.threshold = (1, 1, 1)

        class Holder:
            pass

        holder = Holder()
        holder.me = holder  # a cycle: only the cyclic collector frees it
        holder.widget_like = QObject()
        gone = weakref.ref(holder)
        del holder

        def allocate_a_lot():  # what used to trigger a collection inside a worker
            for _ in range(20_000):
                [object()]

        worker = threading.Thread(target=allocate_a_lot)
        worker.start()
        worker.join()
        assert gone() is not None, "a worker thread collected the cycle"
        qtbot.waitUntil(lambda: gone() is None, timeout=5000)
    finally:
        del collector
        parent.deleteLater()
        gc.enable()
