"""Chunks at once: a task's chunks trained in threads, so that a CPU's cores are all busy.

A chunk's program runs on one core (its steps are too small for XLA to split them), and JAX
releases the interpreter while a program runs, so chunks in threads run side by side; each
computes exactly what it computes alone (the same programs on the same inputs), so results do
not depend on how many run at once. An interrupt (or a failure in one chunk) stops the others
at their next compiled call, after its checkpoint is saved; then it is raised.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
from collections.abc import Callable, Iterable

import jax

WAIT_S = 0.2  # the main thread wakes this often, so that a signal is handled promptly


class StoppedError(Exception):
    """Raised inside a chunk's thread at a call boundary once the task is stopping."""


def default_at_once(requested: int = 0) -> int:
    """Chunks at once: ``requested`` if > 0; else, on a single CPU device, its cores (a GPU, or
    several devices that the lanes are sharded over, run one chunk at a time)."""
    if requested > 0:
        return int(requested)
    if jax.default_backend() != "cpu" or jax.local_device_count() > 1:
        return 1
    return max(1, os.cpu_count() or 1)


def run_all(work: Callable, items: Iterable, at_once: int, after_each=None) -> None:
    """``work(item, stopping)`` for every item, ``at_once`` at a time (1: in this thread, in
    order); ``stopping()`` tells a worker to raise :class:`StoppedError` at its next boundary.
    ``after_each(item)`` runs in this thread as each finishes. The first exception (a failed
    chunk, or an interrupt in this thread) stops the rest and is raised once they have."""
    items = list(items)
    stop = threading.Event()
    if at_once <= 1 or len(items) <= 1:
        for item in items:
            work(item, stop.is_set)
            if after_each is not None:
                after_each(item)
        return
    with cf.ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="chunk") as pool:
        pending = {pool.submit(work, item, stop.is_set): item for item in items}
        try:
            while pending:
                done, _ = cf.wait(pending, timeout=WAIT_S, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    item = pending.pop(future)
                    future.result()  # a worker's exception, raised here
                    if after_each is not None:
                        after_each(item)
        except BaseException:
            stop.set()
            for future in pending:
                future.cancel()
            cf.wait(pending)
            raise
