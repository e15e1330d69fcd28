"""The mean-field job's runs and chunks (DESIGN.md section 3): widths x targets x inits on the
paper's clock, and the chunk loop's task of one chunk.

Each (m, target) is one program; its lanes are every (init, tau, seed) of the config
(``mf_config.py``): the mean-field init, the lazy init and the frozen-a control, all in one
vmapped call, snapshots on ``0, geomspace(t_min / m, t_max * m)``. There is no verdict loop:
every run goes to ``t_max * m`` (a diverged one is frozen and marked). A chunk's checkpoint is
saved after every ``snapshots_per_call`` snapshots by the runner's chunk loop, so a kill loses
at most one call. ``report.py`` merges the chunks and evaluates the claims; ``job.py`` is the
job the registry runs.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import xarray as xr

from alignment.engine import integrate, program, train
from alignment.mean_field import config as mf_config
from alignment.mean_field import family as mf
from alignment.runner import chunk_loop
from alignment.runner.chunks import Chunk, as_list, check_known_fields, checked, even_parts

KINDS = ("mean_field", "lazy", "frozen")
RUN_COLUMNS = ("m", "n", "target", "kind", "scale", "tau", "seed", "a0", "train_a")
LANE_COLUMNS = ("seed", "tau", "a0", "train_a")
SNAPSHOT_KEYS = (*mf.STAT_KEYS, "step", "sharpness", "step_sharpness", "diverged")
SCHEMA = "alignment/mean_field/config.py"  # where every field is defined, with its meaning
VERDICTS = ("finished", "diverged")  # a run reached t_max * m | its loss became non-finite


def _check(cfg, name: str, ok, rule: str, values=None) -> None:
    for v in as_list(cfg[name]) if values is None else values:
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
    for k, allowed in (
        ("activation", mf.ACTIVATIONS),
        ("integrator", tuple(integrate.INTEGRATORS)),
        ("dtype", program.DTYPES),
    ):
        if cfg[k] not in allowed:
            raise ValueError(f"{k}={cfg[k]!r} is not one of {allowed}")
    for t in as_list(cfg.target):
        if t not in mf.TARGETS:
            raise ValueError(f"target={t!r} is not one of {mf.TARGETS}")
    if not any(as_list(cfg[k]) for k in ("a0", "lazy_gamma0", "frozen_gamma")):
        raise ValueError("a0, lazy_gamma0 and frozen_gamma are all empty: no run to train")
    for m in as_list(cfg.m):
        if cfg.t_min / m >= cfg.t_max * m:
            raise ValueError(f"t_min / m = {cfg.t_min / m:g} must be below t_max * m (m={m})")


def expand(cfg) -> dict[str, np.ndarray]:
    """The run table: one row per (m, target, init kind and value, tau, seed)."""
    rows = []
    kinds = (
        ("mean_field", cfg.a0, cfg.num_seeds),
        ("lazy", cfg.lazy_gamma0, cfg.num_seeds),
        ("frozen", cfg.frozen_gamma, cfg.frozen_seeds),
    )
    for m in as_list(cfg.m):
        n = round(cfg.alpha * m * cfg.d)
        for target in as_list(cfg.target):
            for kind, values, seeds in kinds:
                for scale in as_list(values):
                    a0 = scale if kind == "mean_field" else scale * math.sqrt(m)
                    train_a = float(kind != "frozen")
                    for tau in as_list(cfg.tau):
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


def plan(cfg, runs) -> list[Chunk]:
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
            parts = even_parts(cell, cfg.max_lanes)
            size = max(len(p) for p in parts)
            name = f"m{m}_{target}" + ("" if trained else "_frozen")
            for part in parts:
                run_ids = tuple(int(i) for i in part)
                chunks.append(Chunk(len(chunks), prog, run_ids, name, size))
    return chunks


def check_config(cfg) -> list[Chunk]:
    """Every field known (mf_config.py) and valid, every lane value valid; returns the chunks."""
    check_known_fields(cfg, mf_config.get_config(), SCHEMA)
    check_values(cfg)
    runs = expand(cfg)
    return checked(plan(cfg, runs), lambda chunk: lanes_for(cfg, runs, chunk))


def times_for(cfg, m: int) -> np.ndarray:
    return train.time_grid(cfg.t_max * m, cfg.num_snapshots, cfg.t_min / m)


def lanes_for(cfg, runs, chunk: Chunk) -> train.Lanes:
    idx = np.asarray(chunk.run_ids)
    idx = np.concatenate([idx, np.full(chunk.lanes - len(idx), idx[-1])])
    extra = {"lr": cfg.lr} if cfg.integrator == "gd" else {}
    return train.Lanes.make(**{k: runs[k][idx].astype(float) for k in LANE_COLUMNS}, **extra)


class Task:
    """One chunk for the chunk loop: every lane to ``t_max * m`` in calls of
    ``snapshots_per_call`` snapshots; ``book`` = {call: calls done, snaps: snapshots so far}."""

    def __init__(self, cfg, runs, chunk: Chunk):
        self.cfg, self.runs, self.chunk = cfg, runs, chunk
        self.times = times_for(cfg, chunk.program.family.m)
        self.calls = chunk_loop.snapshot_calls(self.times, call_length(cfg))
        self.state0, self.ctx = train.init_runs(chunk.program, lanes_for(cfg, runs, chunk))

    def fresh(self):
        return {"call": 0, "snaps": {}}, self.state0

    def template(self, book):
        return self.state0

    def done(self, book) -> bool:
        return int(book["call"]) >= len(self.calls)

    def advance(self, book, state):
        call = int(book["call"])
        state, snaps = train.train(self.chunk.program, state, self.ctx, self.calls[call])
        new = {k: np.asarray(jax.device_get(snaps[k])) for k in (*SNAPSHOT_KEYS, "time")}
        return {"call": call + 1, "snaps": chunk_loop.joined(book["snaps"], new)}, state

    def progress(self, book) -> tuple[float, str]:
        call = int(book["call"])
        return call / len(self.calls), f"call {call}/{len(self.calls)} to t={self.times[-1]:.3g}"

    def dataset(self, book, state) -> xr.Dataset:
        num = len(self.chunk.run_ids)
        snaps = {k: v[:num, : len(self.times)] for k, v in book["snaps"].items()}
        return chunk_dataset(self.cfg, self.runs, self.chunk, snaps, state)


def train_chunk(cfg, runs, chunk: Chunk, store=None) -> xr.Dataset:
    """Every lane of a chunk to ``t_max * m`` through the chunk loop (resuming from and
    saving to ``store``); returns the chunk's dataset."""
    return chunk_loop.run(Task(cfg, runs, chunk), store, chunk.index)


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
        },
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
