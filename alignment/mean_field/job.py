"""The mean-field job (DESIGN.md section 3): widths x targets x inits on the paper's clock.

Each (m, target) is one program; its lanes are every (init, tau, seed) of the config
(``mf_config.py``): the mean-field init, the lazy init and the frozen-a control, all in one
vmapped call, snapshots on ``0, geomspace(t_min / m, t_max * m)``. There is no verdict loop:
every run goes to ``t_max * m`` (a diverged one is frozen and marked). A chunk's checkpoint is
saved after every ``snapshots_per_call`` snapshots, so a kill loses at most one call; the
driver (``sweep.py``: :data:`JOB`) and the workdir rules (``workdir.py``: same config, current
code, atomic files) are the threshold job's. ``mf_report.py`` merges the chunks and evaluates
the claims.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from absl import logging

from alignment.engine import integrate, train
from alignment.mean_field import config as mf_config
from alignment.mean_field import family as mf
from alignment.runner import checkpoint
from alignment.runner import driver as sweep
from alignment.two_layer import grid, rounds, verdict_loop

KINDS = ("mean_field", "lazy", "frozen")
RUN_COLUMNS = ("m", "n", "target", "kind", "scale", "tau", "seed", "a0", "train_a")
LANE_COLUMNS = ("seed", "tau", "a0", "train_a")
SNAPSHOT_KEYS = (*mf.STAT_KEYS, "step", "sharpness", "step_sharpness", "diverged")
VERDICTS = ("finished", "diverged")  # a run reached t_max * m | its loss became non-finite


def _check(cfg, name: str, ok, rule: str, values=None) -> None:
    for v in grid.as_list(cfg[name]) if values is None else values:
        good = not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
        if not (good and ok(v)):
            raise ValueError(f"{name}={v!r} must be {rule}")


def check_values(cfg) -> None:
    """ValueError naming the first bad field value (before any compute)."""
    integer = "an integer"
    _check(cfg, "d", lambda v: isinstance(v, int) and v >= 1, f"{integer} >= 1")
    _check(cfg, "m", lambda v: isinstance(v, int) and v >= 2, f"{integer} >= 2")
    for k in ("num_seeds", "max_lanes"):
        _check(cfg, k, lambda v: isinstance(v, int) and v >= 1, f"{integer} >= 1")
    for k in ("frozen_seeds", "seed_offset", "snapshots_per_call"):
        _check(cfg, k, lambda v: isinstance(v, int) and v >= 0, f"{integer} >= 0")
    _check(cfg, "num_snapshots", lambda v: isinstance(v, int) and v >= 2, f"{integer} >= 2")
    for k in ("alpha", "t_min", "t_max", "lr", "lazy_gamma0", "frozen_gamma"):
        _check(cfg, k, lambda v: v > 0, "a finite number > 0")
    _check(cfg, "tau", lambda v: v >= 0, "a finite number >= 0")
    _check(cfg, "a0", lambda v: True, "a finite number")
    for k in ("near_min_level", "collapse_level", "plateau_level", "interp_level"):
        _check(cfg, k, lambda v: 0 < v < 1, "in (0, 1)")
    for k, allowed in (("activation", mf.ACTIVATIONS), ("integrator", tuple(integrate.INTEGRATORS)),
                       ("dtype", train.DTYPES)):  # fmt: skip
        if cfg[k] not in allowed:
            raise ValueError(f"{k}={cfg[k]!r} is not one of {allowed}")
    for t in grid.as_list(cfg.target):
        if t not in mf.TARGETS:
            raise ValueError(f"target={t!r} is not one of {mf.TARGETS}")
    if not any(grid.as_list(cfg[k]) for k in ("a0", "lazy_gamma0", "frozen_gamma")):
        raise ValueError("a0, lazy_gamma0 and frozen_gamma are all empty: no run to train")
    for m in grid.as_list(cfg.m):
        if cfg.t_min / m >= cfg.t_max * m:
            raise ValueError(f"t_min / m = {cfg.t_min / m:g} must be below t_max * m (m={m})")


def expand(cfg) -> dict[str, np.ndarray]:
    """The run table: one row per (m, target, init kind and value, tau, seed)."""
    rows = []
    kinds = (("mean_field", cfg.a0, cfg.num_seeds), ("lazy", cfg.lazy_gamma0, cfg.num_seeds),
             ("frozen", cfg.frozen_gamma, cfg.frozen_seeds))  # fmt: skip
    for m in grid.as_list(cfg.m):
        n = round(cfg.alpha * m * cfg.d)
        for target in grid.as_list(cfg.target):
            for kind, values, seeds in kinds:
                for scale in grid.as_list(values):
                    a0 = scale if kind == "mean_field" else scale * math.sqrt(m)
                    train_a = float(kind != "frozen")
                    for tau in grid.as_list(cfg.tau):
                        for s in range(cfg.seed_offset, cfg.seed_offset + seeds):
                            rows.append(
                                (m, n, target, kind, float(scale), float(tau), s, a0, train_a)
                            )
    cols = list(zip(*rows, strict=True))
    return {k: np.asarray(v) for k, v in zip(RUN_COLUMNS, cols, strict=True)}


def program_for(cfg, m: int, target: str) -> train.Program:
    fam = mf.MeanField(cfg.d, int(m), round(cfg.alpha * m * cfg.d), cfg.activation, str(target))
    if cfg.integrator == "flow":
        integ = integrate.Flow(**{k: float(v) for k, v in cfg.flow.items()})
    else:
        integ = integrate.GD()
    return train.Program(fam, integ, dtype=cfg.dtype)


def plan(cfg, runs) -> list[grid.Chunk]:
    """One program per (m, target); its trained-a and frozen-a runs in separate chunks (one
    compile: train_a is a lane value) of at most ``max_lanes``, so that the stiffest lanes of
    one kind do not hold the other in the vmapped while loop."""
    chunks = []
    ids = np.arange(len(runs["m"]))
    for m, target in dict.fromkeys(zip(runs["m"], runs["target"], strict=True)):
        prog = program_for(cfg, int(m), str(target))
        for trained in (1.0, 0.0):
            cell = ids[(runs["m"] == m) & (runs["target"] == target) & (runs["train_a"] == trained)]
            if not cell.size:
                continue
            parts = grid.even_parts(cell, cfg.max_lanes)
            size = max(len(p) for p in parts)
            name = f"m{m}_{target}" + ("" if trained else "_frozen")
            for part in parts:
                run_ids = tuple(int(i) for i in part)
                chunks.append(grid.Chunk(len(chunks), prog, run_ids, name, size))
    return chunks


def check_config(cfg) -> list[grid.Chunk]:
    """Every field known (mf_config.py) and valid, every lane value valid; returns the chunks."""
    grid.check_fields(cfg, mf_config.get_config())
    check_values(cfg)
    runs = expand(cfg)
    chunks = plan(cfg, runs)
    for chunk in chunks:
        chunk.program.validate()
        chunk.program.check_lanes(lanes_for(cfg, runs, chunk))
    return chunks


def times_for(cfg, m: int) -> np.ndarray:
    return train.time_grid(cfg.t_max * m, cfg.num_snapshots, cfg.t_min / m)


def lanes_for(cfg, runs, chunk: grid.Chunk) -> train.Lanes:
    idx = np.asarray(chunk.run_ids)
    idx = np.concatenate([idx, np.full(chunk.lanes - len(idx), idx[-1])])
    extra = {"lr": cfg.lr} if cfg.integrator == "gd" else {}
    return train.Lanes.make(**{k: runs[k][idx].astype(float) for k in LANE_COLUMNS}, **extra)


def train_chunk(cfg, runs, chunk: grid.Chunk, store=None) -> xr.Dataset:
    """Every lane of a chunk to ``t_max * m``, in calls of ``snapshots_per_call`` snapshots,
    resuming from (and saving) the checkpoint in ``store``; returns the chunk's dataset."""
    prog, m = chunk.program, chunk.program.family.m
    times = times_for(cfg, m)
    calls = verdict_loop.snapshot_calls(times, call_length(cfg))
    state, ctx = train.init_runs(prog, lanes_for(cfg, runs, chunk))
    done, parts = 0, None
    try:
        tree = None if store is None else store.load()
        if tree is not None:
            state = rounds.state_from(tree["state"], state)
            done = int(tree["call"])
            parts = tree["snaps"] if done else None
            logging.info("chunk %d: resumed after %d of %d calls", chunk.index, done, len(calls))
    except (checkpoint.CheckpointError, KeyError, ValueError) as e:
        logging.warning("chunk %d: checkpoint not used (%s); starting it over", chunk.index, e)

    def save(calls_done, joined, state):
        if store is not None:
            store.save({"call": calls_done, "snaps": joined, "state": rounds.state_leaves(state)})

    keys = (*SNAPSHOT_KEYS, "time")
    state, joined = rounds.train_calls(prog, state, ctx, calls, keys, done, parts, save)
    snaps = {k: v[: len(chunk.run_ids), : len(times)] for k, v in joined.items()}
    return chunk_dataset(cfg, runs, chunk, snaps, state)


def chunk_dataset(cfg, runs, chunk, snaps: dict, state) -> xr.Dataset:
    """The chunk file: per-snapshot statistics (run x snapshot) with the t, t/m and t*m
    coordinates, the run settings, steps taken and the verdict (finished | diverged)."""
    ids = np.asarray(chunk.run_ids)
    num, m = len(ids), chunk.program.family.m
    t_RxK = snaps["time"].astype(np.float64)
    dims = ("run", "snapshot")
    ds = xr.Dataset(
        {k: (dims, snaps[k].astype(np.float64)) for k in SNAPSHOT_KEYS},
        coords={
            "run": ids,
            "time": (dims, t_RxK),
            "t_over_m": (dims, t_RxK / m),
            "t_times_m": (dims, t_RxK * m),
        },  # fmt: skip
    )
    for k in RUN_COLUMNS:
        ds[k] = ("run", runs[k][ids])
    diverged = np.asarray(state.diverged)[:num]
    ds["diverged_run"] = ("run", diverged)
    ds["diverge_time"] = ("run", np.asarray(state.diverge_time, np.float64)[:num])
    ds["steps"] = ("run", np.asarray(state.step)[:num])
    if isinstance(state.istate, dict) and "floored" in state.istate:
        ds["floored_steps"] = ("run", np.asarray(state.istate["floored"])[:num])
    ds["verdict"] = ("run", np.where(diverged, "diverged", "finished"))
    ds.attrs |= {
        "family": "mean_field",
        "chunk": chunk.index,
        "program": chunk.sweep,
        "d": cfg.d,
        "activation": cfg.activation,
        "integrator": cfg.integrator,
    }
    return ds


def call_length(cfg) -> int:
    return cfg.snapshots_per_call or cfg.num_snapshots


JOB = sweep.Job(check_config, expand, train_chunk, call_length)
