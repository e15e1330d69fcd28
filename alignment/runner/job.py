"""The Job protocol and the one driver every job runs through: checks a config, then trains
every chunk of a task that has no file yet.

A finished chunk is written atomically to ``chunks/`` with its provenance (config hash, code
hash, version, git revision); while a chunk trains, its checkpoint (``checkpoint.py``) is
saved after every compiled call. A rerun skips finished chunks and resumes an unfinished one
from its checkpoint, so a sweep killed at any moment loses at most one call's work and ends
with the same files as an uninterrupted one. What a rerun keeps, refuses or recomputes is
decided in ``workdir.py``. Each chunk goes through the one chunk loop (``chunk_loop.py``) with
the task its job makes; the job's ``finish`` merges the chunks and writes its report.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np
from absl import logging

from alignment.runner import checkpoint, chunk_loop, provenance, results, workers
from alignment.runner import workdir as wd
from alignment.runner.chunks import Chunk
from alignment.runner.progress import Progress


def verdict_counts(verdict_R) -> dict[str, int]:
    """How many runs have each verdict (only the verdicts present)."""
    values, counts = np.unique(np.asarray(verdict_R, str), return_counts=True)
    return {str(v): int(c) for v, c in zip(values, counts, strict=True)}


@dataclasses.dataclass(frozen=True)
class Job:
    """What a kind of job plugs into the driver: the registry maps a config's ``family`` to
    one. Nothing in the runner knows a family; everything family-specific comes from here."""

    name: str  # the config's ``family`` value
    schema: Callable  # () -> the base config: every field with its default and meaning
    check_config: Callable  # cfg -> chunks (ValueError names the first problem)
    expand: Callable  # cfg -> run table (column -> (R,) array)
    chunk_task: Callable  # (cfg, runs, chunk) -> a chunk_loop.ChunkTask
    call_length: Callable  # cfg -> snapshots per compiled call (a checkpoint resumes only
    # with its own call length)
    finish: Callable  # (cfg, workdir) -> the job's report, after merging every chunk
    figures: str = ""  # the module that draws the job's figures (figures.make imports it)
    neutral_fields: tuple[str, ...] = ()  # fields that change no chunk (besides the runner's)

    @property
    def neutral(self) -> tuple[str, ...]:
        return (*provenance.NEUTRAL_FIELDS, *self.neutral_fields)

    def train_chunk(self, cfg, runs, chunk: Chunk, store=None, on_step=None):
        """One chunk through the chunk loop, as its dataset (the chunk file)."""
        return chunk_loop.run(self.chunk_task(cfg, runs, chunk), store, chunk.index, on_step)


def share_of(chunks: list[Chunk], task_index: int, num_tasks: int) -> list[Chunk]:
    """The chunks task ``task_index`` of ``num_tasks`` owns: those whose index is it mod K."""
    return [c for c in chunks if c.index % num_tasks == task_index]


def prepare(
    job: Job, cfg, workdir, task_index=0, num_tasks=1, restart=False, keep_old_chunks=False
):
    """Every check before compute: the task, the config, the workdir and its chunk files.

    Returns (runs, this task's chunks, the chunks still to train). ValueError names the first
    problem; ``restart`` deletes the workdir's old results once the config is valid.
    """
    if not 0 <= task_index < num_tasks:
        raise ValueError(f"task_index={task_index} must be in [0, num_tasks={num_tasks})")
    chunks = job.check_config(cfg)
    runs = job.expand(cfg)
    workdir = wd.check_usable(workdir)
    if restart:
        wd.start_over(workdir)
    wd.remove_stale_temporaries(workdir)
    cfg_json = config_json(cfg)
    wd.check_config(workdir, cfg_json, job.neutral)
    mine = share_of(chunks, task_index, num_tasks)
    done = wd.usable_chunks(workdir, cfg_json, keep_old_chunks, job.neutral)
    todo = [c for c in mine if c.index not in done]
    logging.info(
        "%d runs in %d chunks; this task: %d chunks, %d already finished",
        len(next(iter(runs.values()))),
        len(chunks),
        len(mine),
        len(mine) - len(todo),
    )
    logging.info("on %d %s device(s)", jax.device_count(), jax.default_backend())
    return runs, mine, todo


def config_json(cfg) -> str:
    """The resolved config as stored in config.json (sorted keys)."""
    return cfg.to_json(indent=2, sort_keys=True)


def run(job: Job, cfg, workdir, task_index: int = 0, num_tasks: int = 1, **options) -> list[int]:
    """Checks everything (:func:`prepare`), then trains every chunk of this task that has no
    usable file yet (:func:`train_chunks`); returns the chunk indices the task owns.

    ``options``: ``restart`` and ``keep_old_chunks`` (:func:`prepare`), ``after_chunk``,
    ``checkpoints`` and ``after_save`` (:func:`train_chunks`)."""
    restart, keep = options.pop("restart", False), options.pop("keep_old_chunks", False)
    runs, mine, todo = prepare(job, cfg, workdir, task_index, num_tasks, restart, keep)
    train_chunks(job, cfg, workdir, runs, todo, **options)
    return [c.index for c in mine]


def train_chunks(
    job: Job, cfg, workdir, runs, todo, after_chunk=None, checkpoints=True, after_save=None
):
    """Trains the chunks ``todo`` (from :func:`prepare`) and writes their files.

    Each chunk resumes from its checkpoint, if an earlier process left one, and saves one
    after every compiled call (``checkpoints=False``: neither, for measuring their cost).
    ``after_chunk`` (tests, monitoring) is called with each chunk once its file is written,
    ``after_save`` with the number of checkpoint saves of the chunk so far (tests: a kill).
    """
    workdir = Path(workdir)
    stamp = provenance.stamp(config_json(cfg), job.neutral)
    with Progress(todo, report=workers.report if workers.in_worker() else None) as progress:
        for chunk in todo:
            t0 = time.time()
            store = None
            if checkpoints:
                path = checkpoint.checkpoint_path(workdir, chunk.index)
                # a checkpoint's position counts calls: it resumes only with the same call length
                meta = stamp | {"snapshots_per_call": str(job.call_length(cfg))}
                store = checkpoint.Store(path, meta, after_save)
            step = functools.partial(progress.step, chunk)
            ds = job.train_chunk(cfg, runs, chunk, store, step)
            ds.attrs |= stamp
            results.write_netcdf(results.chunk_path(workdir, chunk.index), ds)
            if store is not None:
                store.remove()
                logging.info(
                    "chunk %d: %d checkpoint saves, %.2f s", chunk.index, store.saves, store.seconds
                )
            progress.chunk_done(chunk, time.time() - t0, verdict_counts(ds["verdict"]))
            if after_chunk is not None:
                after_chunk(chunk)
