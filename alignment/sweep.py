"""Runs a sweep grid chunk by chunk with the verdict loop, and writes the results store.

Each chunk trains on the snapshot grid up to ``max_time``; runs without a verdict are then
continued (never restarted) one decade of time at a time until every run has a verdict or
``time_cap`` is reached, while runs with a verdict stay frozen. A finished chunk is written
atomically to ``chunks/``; a rerun skips finished chunks, so an interrupted sweep resumes
without recomputing anything and ends with the same files as an uninterrupted one.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import jax
import numpy as np
import xarray as xr
from absl import logging

from alignment import grid, results, threshold, train


def verdict_tolerances(cfg) -> dict:
    """The verdict tolerances of a config, as keyword arguments of threshold.verdicts."""
    return dict(cfg.verdict)


def _verdicts(cfg, snaps: dict[str, np.ndarray]) -> np.ndarray:
    return threshold.verdicts(
        snaps["time"], snaps["loss"], snaps["grad_norm"], snaps["loss"][:, 0],
        diverged_R=snaps["diverged"][:, -1], **verdict_tolerances(cfg),
    )  # fmt: skip


def _host(tree) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in jax.device_get(tree).items()}


def train_chunk(cfg, runs, chunk: grid.Chunk) -> xr.Dataset:
    """Trains one chunk through the verdict loop and returns its results as a dataset."""
    prog = chunk.program
    lanes = grid.lanes_for(runs, chunk.run_ids)
    state, ctx = train.init_runs(prog, lanes)
    times = train.time_grid(cfg.max_time, cfg.num_snapshots, cfg.t_min)
    state, snaps = train.train(prog, state, ctx, times, lanes.lr)
    parts = [_host(snaps)]
    verdict = _verdicts(cfg, parts[0])
    t_end = float(cfg.max_time)
    while np.any(verdict == "undetermined") and t_end < cfg.time_cap * (1 - 1e-12):
        t_next = min(t_end * 10.0, float(cfg.time_cap))
        times = np.geomspace(t_end, t_next, cfg.snapshots_per_decade + 1)[1:]
        state, snaps = train.train(
            prog, state, ctx, times, lanes.lr, frozen_R=verdict != "undetermined"
        )
        parts.append(_host(snaps))
        joined = {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}
        verdict = _verdicts(cfg, joined)
        t_end = t_next
    snaps = {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}
    return chunk_dataset(runs, chunk, snaps, verdict, jax.device_get(ctx), jax.device_get(state))


def chunk_dataset(runs, chunk, snaps, verdict, ctx, state) -> xr.Dataset:
    """Labels a chunk's arrays: dims run, snapshot, neuron, coord."""
    ids = np.asarray(chunk.run_ids)
    dims = ("run", "snapshot", "neuron", "coord")
    data_vars = {k: (dims[: v.ndim], v) for k, v in snaps.items()}
    n_snap = snaps["time"].shape[1]
    data_vars |= {
        "verdict": ("run", np.asarray(verdict, dtype=str)),
        "last_snapshot": ("run", np.full(len(ids), n_snap - 1)),
        "diverge_time": ("run", np.asarray(state.diverge_time, np.float64)),
        "ols_train_loss": ("run", np.asarray(ctx.ref.train_loss, np.float64)),
        "ols_test_loss": ("run", np.asarray(ctx.ref.test_loss, np.float64)),
        "ols_test_excess": ("run", np.asarray(ctx.ref.test_excess, np.float64)),
        "beta_star": (("run", "coord_in"), np.asarray(ctx.beta_star, np.float64)),
        "beta_hat": (("run", "coord_ols"), np.asarray(ctx.ref.beta_hat, np.float64)),
    }
    for k in grid.RUN_COLUMNS:
        data_vars[k] = ("run", runs[k][ids])
    data_vars["diverged"] = ("run", np.asarray(state.diverged, bool))
    data_vars["diverged_at_snapshot"] = (("run", "snapshot"), snaps["diverged"])
    prog = chunk.program
    attrs = {
        "chunk": chunk.index,
        "data": prog.data.name,
        "n_pad": prog.n_pad,
        "dtype": prog.dtype,
    }
    ds = xr.Dataset(data_vars, coords={"run": ids}, attrs=attrs)
    ds["data"] = ("run", np.full(len(ids), prog.data.name))
    return ds


class Progress:
    """A one-line text progress bar with ETA (stderr), plus an absl log line per chunk."""

    def __init__(self, total_cost: float, num_chunks: int):
        self.total, self.done, self.num, self.count = total_cost, 0.0, num_chunks, 0
        self.start = time.time()

    def update(self, cost: float, chunk: grid.Chunk, seconds: float, counts: dict) -> None:
        self.done += cost
        self.count += 1
        elapsed = time.time() - self.start
        eta = elapsed * (self.total - self.done) / max(self.done, 1e-12)
        frac = self.done / max(self.total, 1e-12)
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        sys.stderr.write(
            f"\r[{bar}] {self.count}/{self.num} chunks  elapsed {elapsed:6.1f}s  ETA {eta:6.1f}s"
        )
        sys.stderr.flush()
        logging.info(
            "chunk %d (d=%d m=%d init=%s n_pad=%d, %d runs) in %.1fs: %s",
            chunk.index, chunk.program.data.d, chunk.program.m, chunk.program.init,
            chunk.program.n_pad, len(chunk.run_ids), seconds, counts,
        )  # fmt: skip
        if self.count == self.num:
            sys.stderr.write("\n")


def chunk_cost(chunk: grid.Chunk) -> float:
    """Relative compute of a chunk (for the ETA): runs x padded samples x width x dim."""
    p = chunk.program
    return len(chunk.run_ids) * p.n_pad * p.m * (p.data.d + 1)


def check_workdir_config(workdir: Path, cfg_json: str) -> None:
    """Refuses to mix results of different configs in one workdir."""
    path = workdir / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        new = json.loads(cfg_json)
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            raise ValueError(
                f"{workdir} holds results of a different config (fields differ: {diff}); "
                "use another --workdir or delete it"
            )
    else:
        results.write_text(path, cfg_json)


def run(cfg, workdir, task_index: int = 0, num_tasks: int = 1) -> list[int]:
    """Trains every chunk of this task that has no file yet; returns the chunk indices done."""
    workdir = Path(workdir)
    runs = grid.expand(cfg)
    chunks = grid.validate(cfg, runs)
    if not 0 <= task_index < num_tasks:
        raise ValueError(f"task_index={task_index} must be in [0, num_tasks={num_tasks})")
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
        counts = dict(zip(*np.unique(ds["verdict"].values, return_counts=True), strict=True))
        progress.update(chunk_cost(chunk), chunk, time.time() - t0, counts)
    return [c.index for c in mine]


def collect(cfg, workdir) -> xr.Dataset:
    """Merges every chunk's file into trajectories.nc and summary.csv (all chunks must exist)."""
    workdir = Path(workdir)
    runs = grid.expand(cfg)
    chunks = grid.plan(cfg, runs)
    missing = sorted(set(range(len(chunks))) - set(results.finished_chunks(workdir)))
    if missing:
        raise RuntimeError(f"{len(missing)} chunks not finished yet (first: {missing[:5]})")
    traj = results.merge_chunks([results.load_chunk(workdir, c.index) for c in chunks])
    results.write_netcdf(workdir / "trajectories.nc", traj)
    results.write_csv(workdir / "summary.csv", results.summary_table(traj))
    return traj
