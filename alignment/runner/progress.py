"""Progress of a task's chunks: one bar on a terminal, advanced inside every chunk, and one log
line per finished chunk.

The bar counts work (a chunk's lanes x its family's cost of a lane-step) and moves with every
step of the chunk loop by the task's own estimate of how far the chunk is
(``ChunkTask.progress``), so a one-chunk job shows progress too; its ETA is the remaining work
at the average rate of the work done so far (tqdm, ``smoothing=0``: it learns from every call
done, compiles included). A task's estimate is a guess (e.g. how much of a chunk its later
rounds take); once a chunk is done, the share of its wall time at which each estimate was
reported is learned (:class:`Warp`) and later chunks' estimates are read through it. The bar is
drawn only on a terminal; log lines are written above it (through tqdm), never glued to it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time

import numpy as np
from absl import logging
from tqdm import tqdm

from alignment.runner.chunks import Chunk


def chunk_cost(chunk: Chunk) -> float:
    """Relative compute of a chunk (for the ETA): lanes x the family's cost of one lane."""
    return max(chunk.lanes, len(chunk.run_ids)) * chunk.program.family.cost()


def _width(stream) -> int:
    """The terminal's width, or 0 where it is unknown (then the bar takes 100 columns)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return 0


class _AboveTheBar:
    """A stream for absl's log handler that writes each line above the bar."""

    def __init__(self, bar: tqdm):
        self.bar = bar

    def write(self, text: str) -> None:
        if text.strip():
            self.bar.write(text.rstrip("\n"), file=self.bar.fp)

    def flush(self) -> None:
        pass


def make_bar(total: float, stream) -> tqdm:
    """The project's bar on ``stream``: drawn only on a terminal, ETA from the average rate."""
    return tqdm(
        total=total or 1.0,
        file=stream,
        disable=not bool(getattr(stream, "isatty", lambda: False)()),
        smoothing=0.0,
        bar_format="{percentage:3.0f}%|{bar}| {desc} [{elapsed}<{remaining}]",
        ncols=None if _width(stream) else 100,
        dynamic_ncols=bool(_width(stream)),
    )


@contextlib.contextmanager
def logs_above(bar: tqdm):
    """absl's log lines written above ``bar`` while it is drawn (never glued to it)."""
    if bar.disable:
        yield
        return
    handler = logging.get_absl_handler().python_handler
    old, handler.stream = handler.stream, _AboveTheBar(bar)
    try:
        yield
    finally:
        handler.stream = old


class Warp:
    """Reported fraction of a chunk -> the share of its wall time, learned from finished chunks:
    the mean over them of the (monotone) time share at which each fraction was reported.
    Before any chunk has finished it is the identity."""

    GRID = np.linspace(0.0, 1.0, 101)

    def __init__(self):
        self.curves: list[np.ndarray] = []
        self.points: list[tuple[float, float]] = []

    def record(self, fraction: float, seconds: float) -> None:
        self.points.append((fraction, seconds))

    def learn(self, seconds: float) -> None:
        """The chunk took ``seconds``: its points become a curve on :attr:`GRID`."""
        pts = sorted(self.points)
        self.points = []
        if len(pts) < 2 or not seconds > 0:
            return
        f = np.array([0.0, *[p[0] for p in pts], 1.0])
        share = np.maximum.accumulate(np.array([0.0, *[p[1] for p in pts], seconds]) / seconds)
        self.curves.append(np.interp(self.GRID, f, np.minimum(share, 1.0)))

    def __call__(self, fraction: float) -> float:
        if not self.curves:
            return fraction
        return float(np.interp(fraction, self.GRID, np.mean(self.curves, axis=0)))


class Progress:
    """The bar of chunks ``todo`` (a no-op off a terminal) and a log line per chunk; with
    ``report``, every step's estimate is also told to it (a worker tells its parent)."""

    def __init__(self, todo: list[Chunk], stream=None, clock=time.monotonic, report=None):
        self.clock, self.warp, self.started = clock, Warp(), clock()
        self.report = report  # also tell this (index, fraction, status) at every step
        self.stream = sys.stderr if stream is None else stream
        self.costs = {c.index: chunk_cost(c) for c in todo}
        self.num, self.count, self.here = len(todo), 0, 0.0
        self.bar = make_bar(sum(self.costs.values()), self.stream)
        self._logs = contextlib.ExitStack()  # log lines above the bar until close()
        self._logs.enter_context(logs_above(self.bar))

    def step(self, chunk: Chunk, fraction: float, status: str) -> None:
        """The chunk is ``fraction`` done (0..1; its task's estimate) and says ``status``."""
        fraction = min(max(fraction, 0.0), 1.0)
        self.warp.record(fraction, self.clock() - self.started)
        at = self.costs[chunk.index] * self.warp(fraction)
        self.bar.update(max(at - self.here, 0.0))
        self.here = max(at, self.here)
        self.bar.set_description_str(f"chunk {self.count + 1}/{self.num}: {status}", refresh=True)
        if self.report is not None:
            self.report(chunk.index, self.warp(fraction), status)

    def chunk_done(self, chunk: Chunk, seconds: float, counts: dict) -> None:
        self.bar.update(self.costs[chunk.index] - self.here)
        self.count, self.here = self.count + 1, 0.0
        self.warp.learn(self.clock() - self.started)
        self.started = self.clock()
        logging.info(
            "chunk %d/%d [%s] (%s, %d runs) in %.1fs: %s",
            self.count,
            self.num,
            chunk.sweep,
            chunk.program.family.describe(),
            len(chunk.run_ids),
            seconds,
            counts,
        )

    def close(self) -> None:
        self.bar.close()
        self._logs.close()  # a second close does nothing

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            self.close()
