"""The sweep driver: checks a config, then trains every chunk of a task that has no file yet.

A finished chunk is written atomically to ``chunks/``; a rerun skips finished chunks, so an
interrupted sweep resumes without recomputing anything and ends with the same files as an
uninterrupted one. Each chunk goes through the verdict loop (``alignment/verdict_loop.py``);
``alignment/report.py`` merges the chunks and estimates n* once all are done.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from absl import logging

from alignment import config, grid, records, results, verdict_loop

NEUTRAL_FIELDS = ("make_figures", "n_boot")  # fields that do not change any chunk's results


def check_config(cfg) -> list[grid.Chunk]:
    """Every field known (alignment/config.py) and every value valid; returns the chunks.

    Raises ValueError naming the first problem, before any compute.
    """
    grid.check_fields(cfg, config.get_config())
    return grid.validate(cfg, grid.expand(cfg))


def verdict_counts(verdict_R) -> dict[str, int]:
    """How many runs have each verdict (only the verdicts present)."""
    values, counts = np.unique(np.asarray(verdict_R, str), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


def train_chunk(cfg, runs, chunk: grid.Chunk):
    """One chunk through the verdict loop, as its dataset (the chunk file)."""
    snaps, verdict, ctx, state, count, evidence = verdict_loop.train_chunk(cfg, runs, chunk)
    keep = records.neuron_runs(cfg, runs, chunk)
    attrs = {"steps_computed": count.computed, "steps_useful": count.useful}
    ds = records.chunk_dataset(runs, chunk, snaps, verdict, ctx, state, keep, attrs)
    for k, v in evidence.items():
        ds[k] = ("run", np.asarray(v))
    return ds


class Progress:
    """A one-line text progress bar with ETA (stderr), plus an absl log line per chunk.

    The ETA averages two extrapolations of the time spent so far: by the remaining share of
    the work (lanes x padded samples x width x dim) and by the remaining share of chunks (each
    chunk also compiles its program). The verdict loop makes chunks of equal size take unequal
    times, so it is an estimate that sharpens as chunks finish.
    """

    def __init__(self, total_cost: float, num_chunks: int, stream=None):
        self.total, self.done, self.num, self.count = total_cost, 0.0, num_chunks, 0
        self.start = time.time()
        self.stream = sys.stderr if stream is None else stream

    def bar(self) -> str:
        elapsed = time.time() - self.start
        by_work = elapsed * (self.total - self.done) / max(self.done, 1e-12)
        by_count = elapsed * (self.num - self.count) / max(self.count, 1)
        eta = 0.5 * (by_work + by_count)
        frac = self.done / max(self.total, 1e-12)
        filled = int(30 * frac)
        return (
            f"[{'#' * filled}{'-' * (30 - filled)}] {self.count}/{self.num} chunks  "
            f"elapsed {elapsed:6.1f}s  ETA {eta:6.1f}s"
        )

    def update(self, cost: float, chunk: grid.Chunk, seconds: float, counts: dict) -> None:
        self.done += cost
        self.count += 1
        p = chunk.program
        logging.info(
            "chunk %d/%d [%s] (%s, %d runs) in %.1fs: %s",
            self.count, self.num, chunk.sweep, p.family.describe(), len(chunk.run_ids),
            seconds, counts,
        )  # fmt: skip
        self.stream.write("\r" + self.bar() + ("\n" if self.count == self.num else ""))
        self.stream.flush()


def chunk_cost(chunk: grid.Chunk) -> float:
    """Relative compute of a chunk (for the ETA): lanes x the family's cost of one lane."""
    p = chunk.program
    return max(chunk.lanes, len(chunk.run_ids)) * p.family.cost()


def _chunk_relevant(cfg_dict: dict) -> dict:
    return {k: v for k, v in cfg_dict.items() if k not in NEUTRAL_FIELDS}


def check_workdir_config(workdir: Path, cfg_json: str) -> None:
    """Refuses to mix results of different configs in one workdir.

    Fields that change no chunk (``NEUTRAL_FIELDS``) may differ; config.json then takes the
    new values.
    """
    path = Path(workdir) / "config.json"
    new = json.loads(cfg_json)
    if path.exists():
        old = json.loads(path.read_text())
        a, b = _chunk_relevant(old), _chunk_relevant(new)
        if a != b:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise ValueError(
                f"{workdir} holds results of a different config (fields differ: {diff}); "
                "use another --workdir or delete it"
            )
        if old == new:
            return
    results.write_text(path, cfg_json)


def run(
    cfg,
    workdir,
    task_index: int = 0,
    num_tasks: int = 1,
    after_chunk: Callable[[grid.Chunk], None] | None = None,
) -> list[int]:
    """Trains every chunk of this task that has no file yet; returns the chunk indices it owns.

    The config is checked completely before anything is computed. ``after_chunk`` (tests,
    monitoring) is called with each chunk once its file is written.
    """
    workdir = Path(workdir)
    if not 0 <= task_index < num_tasks:
        raise ValueError(f"task_index={task_index} must be in [0, num_tasks={num_tasks})")
    chunks = check_config(cfg)
    runs = grid.expand(cfg)
    check_workdir_config(workdir, cfg.to_json(indent=2, sort_keys=True))
    mine = [c for c in chunks if c.index % num_tasks == task_index]
    done = set(results.finished_chunks(workdir))
    todo = [c for c in mine if c.index not in done]
    logging.info(
        "%d runs in %d chunks; this task: %d chunks, %d already finished",
        len(runs["n"]), len(chunks), len(mine), len(mine) - len(todo),
    )  # fmt: skip
    progress = Progress(sum(chunk_cost(c) for c in todo), len(todo))
    for chunk in todo:
        t0 = time.time()
        ds = train_chunk(cfg, runs, chunk)
        results.write_netcdf(results.chunk_path(workdir, chunk.index), ds)
        progress.update(chunk_cost(chunk), chunk, time.time() - t0, verdict_counts(ds["verdict"]))
        if after_chunk is not None:
            after_chunk(chunk)
    return [c.index for c in mine]
