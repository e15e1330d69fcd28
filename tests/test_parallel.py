"""Chunks side by side (``runner/parallel.py``): they really run at once, each finished one is
reported in the calling thread, and a failure stops the others at their next boundary."""

import threading
import time

import pytest

from alignment.runner import parallel


def test_items_run_at_once_and_are_reported_in_the_calling_thread():
    both = threading.Barrier(2, timeout=10)  # each worker waits for the other: only at once
    reported = []

    def work(item, stopping):
        both.wait()
        return item

    def after(item):
        reported.append((item, threading.current_thread() is threading.main_thread()))

    parallel.run_all(work, [0, 1], 2, after)
    assert sorted(reported) == [(0, True), (1, True)]


def test_one_at_a_time_runs_in_order_in_this_thread():
    seen = []
    parallel.run_all(lambda item, stopping: seen.append(item), [3, 1, 2], 1)
    assert seen == [3, 1, 2]


def test_a_failure_stops_the_others_at_their_boundary_and_is_raised():
    stopped = threading.Event()

    def work(item, stopping):
        if item == "bad":
            time.sleep(0.05)
            raise ValueError("bad chunk")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # a long chunk: calls, each ending at a boundary
            if stopping():
                stopped.set()
                raise parallel.StoppedError(item)
            time.sleep(0.01)

    with pytest.raises(ValueError, match="bad chunk"):
        parallel.run_all(work, ["long", "bad"], 2)
    assert stopped.is_set()


def test_default_is_one_per_core_on_one_cpu_device_else_one():
    """The suite runs with 4 emulated CPU devices (conftest): lanes are sharded, one chunk at a
    time; an explicit count wins."""
    assert parallel.default_at_once(3) == 3
    assert parallel.default_at_once(0) == 1
