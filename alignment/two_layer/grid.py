"""A sweep grid as a table of runs, cut into chunks that each run as one compiled program.

A config may hold several *sub-sweeps* (``cfg.sweeps``: name -> overrides of the top-level
fields), e.g. three data models in one job; without any, the config is one sub-sweep named after
it. Every run carries its sub-sweep's settings in the run table. Axes that change shapes (d, m,
init, and everything fixed per sub-sweep) select the program; the others (n, seed, lam, lr,
sigma) are lanes of one vmap. Within a program, runs are bucketed by n so that padding waste
stays small, and buckets are split into chunks of at most ``max_lanes`` runs of equal size (a
chunk one run short is padded with a copy, so a bucket compiles once). Chunks are the unit of
work, of resumption and of task partitioning; their order is a pure function of the config.
"""

from __future__ import annotations

import itertools

import ml_collections
import numpy as np

from alignment.engine import sharding, train
from alignment.runner.chunks import Chunk, as_list, check_known_fields, even_parts
from alignment.two_layer.programs import program_for

LANE_AXES = ("n", "seed", "lam", "lr", "sigma")
STATIC_AXES = ("d", "m", "init")
# Settings fixed per sub-sweep that still distinguish its runs from another sub-sweep's.
FIXED_COLUMNS = (
    "family",
    "data",
    "x_dist",
    "bias",
    "symmetric",
    "spread",
    "mirrored",
    "activation",
    "optimizer",
    "momentum",
    "gd_step_sharpness",
    "integrator",
    "dtype",
)
# Per-run settings recorded in every output (sweep: the sub-sweep's name).
RUN_COLUMNS = ("sweep", *FIXED_COLUMNS, *STATIC_AXES, *LANE_AXES)
# A group is every run that shares all of these (all but n and seed): one n* each.
GROUP_AXES = ("sweep", *FIXED_COLUMNS, "d", "m", "init", "sigma", "lam", "lr")
# Fields a sub-sweep may override: everything that defines its runs (not time grids or layout).
SWEEP_FIELDS = (
    "data",
    "d",
    "x_dist",
    "symmetric",
    "spread",
    "sigma",
    "file_noise",
    "n",
    "num_seeds",
    "seed_offset",
    "n_test",
    "m",
    "init",
    "lam",
    "bias",
    "mirrored",
    "activation",
    "optimizer",
    "momentum",
    "gd_step_sharpness",
    "lr",
    "family",
    "integrator",
    "dtype",
)
BUCKET_MULTIPLE = 8  # padded sample counts are multiples of this
SCHEMA = "alignment/two_layer/config.py"  # where every field is defined, with its meaning


def check_fields(cfg, reference, where: str = "config") -> None:
    """Raises ValueError naming every field of ``cfg`` that ``reference`` (the base config)
    does not define, recursively; sub-sweep overrides may only set :data:`SWEEP_FIELDS`."""
    check_known_fields(cfg, reference, SCHEMA, where, skip=("sweeps",))
    for name, over in sub_sweep_overrides(cfg).items():
        bad = sorted(set(over) - set(SWEEP_FIELDS))
        if bad:
            raise ValueError(
                f"sub-sweep {name!r} sets {bad}, which a sub-sweep cannot override "
                f"(allowed: {', '.join(SWEEP_FIELDS)})"
            )


def sub_sweep_overrides(cfg) -> dict[str, dict]:
    """``cfg.sweeps`` as plain dicts, sorted by name (empty when the config has none)."""
    sweeps = cfg.get("sweeps", None)
    if not sweeps:
        return {}
    out = {}
    for name in sorted(sweeps.keys()):
        over = sweeps[name]
        out[str(name)] = dict(over.to_dict() if hasattr(over, "to_dict") else over)
    return out


def sub_sweeps(cfg) -> list[tuple[str, ml_collections.ConfigDict]]:
    """(name, resolved config) of every sub-sweep: the top-level fields with its overrides."""
    overrides = sub_sweep_overrides(cfg)
    if not overrides:
        return [(str(cfg.name), cfg)]
    base = cfg.to_dict()
    base.pop("sweeps", None)
    return [(name, ml_collections.ConfigDict({**base, **over})) for name, over in overrides.items()]


def _expand_one(name: str, sub) -> dict[str, np.ndarray]:
    seeds = [sub.seed_offset + i for i in range(sub.num_seeds)]
    axes = {
        "d": as_list(sub.d),
        "m": as_list(sub.m),
        "init": as_list(sub.init),
        # a user's targets are used as given: their noise is the file's (plus file_noise)
        "sigma": [float(sub.file_noise)] if sub.data == "file" else as_list(sub.sigma),
        "lam": as_list(sub.lam),
        "lr": as_list(sub.lr),
        "n": as_list(sub.n),
        "seed": seeds,
    }
    rows = list(itertools.product(*axes.values()))
    cols = {k: [r[i] for r in rows] for i, k in enumerate(axes)}
    fixed = {"sweep": name} | {k: _fixed_value(sub, k) for k in FIXED_COLUMNS}
    cols |= {k: [v] * len(rows) for k, v in fixed.items()}
    return {k: cols[k] for k in RUN_COLUMNS}


def _fixed_value(sub, key):
    v = sub[key]
    return bool(v) if isinstance(v, bool) else v


def expand(cfg) -> dict[str, np.ndarray]:
    """Every run of the grid as columns of equal length, in canonical order.

    Order: sub-sweep (by name), then d, m, init, sigma, lam, lr, n, seed (seed fastest). The
    position in this table is the run's global id.
    """
    parts = [_expand_one(name, sub) for name, sub in sub_sweeps(cfg)]
    cols = {k: sum((p[k] for p in parts), []) for k in RUN_COLUMNS}
    out = {k: np.asarray(v) for k, v in cols.items()}
    for k in (
        "sweep",
        "family",
        "data",
        "x_dist",
        "init",
        "activation",
        "optimizer",
        "integrator",
        "dtype",
    ):
        out[k] = out[k].astype(str)
    return out


def group_keys(table) -> np.ndarray:
    """One string per run (a summary DataFrame or a run table) naming its group."""
    cols = [np.asarray(table[k]).astype(str) for k in GROUP_AXES]
    return np.asarray(["|".join(parts) for parts in zip(*cols, strict=True)])


def pad_size(n: int, multiple: int = BUCKET_MULTIPLE) -> int:
    """Padded sample count for a bucket whose largest n is ``n``."""
    return int(-(-n // multiple) * multiple)


def buckets(
    n_values, max_waste: float = 0.5, multiple: int = BUCKET_MULTIPLE
) -> list[tuple[list[int], int]]:
    """Groups sorted distinct n into (members, n_pad) with padded cost <= (1+max_waste) * real.

    Greedy from the smallest n: a bucket grows while sum_i n_pad over its members stays within
    the waste budget, so the compiled-program count stays low without paying much padding.
    """
    out: list[tuple[list[int], int]] = []
    for n in sorted({int(v) for v in n_values}):
        if out:
            members, _ = out[-1]
            n_pad = pad_size(n, multiple)
            if n_pad * (len(members) + 1) <= (1 + max_waste) * (sum(members) + n):
                members.append(n)
                out[-1] = (members, n_pad)
                continue
        out.append(([n], pad_size(n, multiple)))
    return out


def plan(cfg, runs: dict[str, np.ndarray]) -> list[Chunk]:
    """Cuts the run table into chunks (deterministic order)."""
    chunks: list[Chunk] = []
    ids = np.arange(len(runs["n"]))
    for name, sub in sub_sweeps(cfg):
        in_sweep = runs["sweep"] == name
        cells = zip(runs["d"][in_sweep], runs["m"][in_sweep], runs["init"][in_sweep], strict=True)
        for d, m, init in dict.fromkeys(cells):
            cell = ids[in_sweep & (runs["d"] == d) & (runs["m"] == m) & (runs["init"] == init)]
            for members, n_pad in buckets(runs["n"][cell], cfg.bucket_waste):
                in_bucket = cell[np.isin(runs["n"][cell], members)]
                prog = program_for(sub, d, m, init, n_pad)
                parts = [
                    p
                    for group in integrator_groups(prog, runs, in_bucket)
                    for p in even_parts(group, cfg.max_lanes)
                ]
                size = max(len(p) for p in parts)
                for part in parts:
                    run_ids = tuple(int(i) for i in part)
                    chunks.append(Chunk(len(chunks), prog, run_ids, name, size))
    return chunks


def integrator_groups(prog: train.Program, runs, ids: np.ndarray) -> list[np.ndarray]:
    """``ids`` (rows of ``runs``: a run table or lane values) split by the integrator's group
    axes (e.g. the step size), in order of first appearance: lanes that take
    different step counts to reach a time would idle in one while loop otherwise."""
    keys = [tuple(runs[a][i] for a in prog.integrator.group_axes) for i in ids]
    return [ids[[k == key for k in keys]] for key in dict.fromkeys(keys)]


def call_layout(live_ids: np.ndarray, full: int) -> tuple[np.ndarray, np.ndarray]:
    """(lane ids, live mask) of a continuation call of ``live_ids``: the chunk's own lane count
    ``full`` (padded for the devices, ``sharding.padded_count``), so the call reuses the chunk's
    compiled program and no other lane count is ever compiled. The live lanes are spread evenly
    over the devices (each device's share of the run axis is contiguous), packed at the front of
    each share so that they fill whole lane blocks; the other lanes are idle copies of a live
    lane that take no step (``train.train``'s ``active``) and are never written back."""
    mesh = sharding.default_mesh()
    ndev = 1 if mesh is None else mesh.size
    lanes = sharding.padded_count(full, ndev)
    per = lanes // ndev
    k = np.arange(len(live_ids))
    pos = (k % ndev) * per + k // ndev
    ids = np.full(lanes, live_ids[-1])
    ids[pos] = live_ids
    live = np.zeros(lanes, bool)
    live[pos] = True
    return ids, live


def by_speed(ids: np.ndarray, step_R: np.ndarray | None) -> np.ndarray:
    """``ids`` in order of their lanes' mean step (longest first; unknown or zero steps last),
    as given when steps are not known."""
    if step_R is None:
        return np.asarray(ids)
    step = np.asarray(step_R, np.float64)[ids]
    step = np.where(np.isfinite(step) & (step > 0), step, 0.0)
    return np.asarray(ids)[np.argsort(-step, kind="stable")]


def batches(prog, lanes: train.Lanes, live_ids, full: int, step_R=None) -> list[tuple]:
    """Live runs grouped by the integrator's group axes, each group one call
    (:func:`call_layout`: (ids, live)) with its lanes in order of their mean step
    (``step_R`` per lane, :func:`by_speed`): each lane block's while loop runs as long as its
    slowest lane, so lanes of like speed share a block."""
    groups = integrator_groups(prog, lanes.values, np.asarray(live_ids))
    return [call_layout(by_speed(group, step_R), full) for group in groups]


def lanes_for(runs: dict[str, np.ndarray], run_ids, num_lanes: int = 0) -> train.Lanes:
    """The per-run values of a chunk's lanes, padded to ``num_lanes`` by repeating the last."""
    idx = np.asarray(run_ids)
    if num_lanes > len(idx):
        idx = np.concatenate([idx, np.full(num_lanes - len(idx), idx[-1])])
    return train.Lanes.make(**{k: runs[k][idx] for k in LANE_AXES})
