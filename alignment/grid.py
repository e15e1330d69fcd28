"""A sweep grid as a table of runs, cut into chunks that each run as one compiled program.

Axes that change shapes (d, m, init) select the program; the others (n, seed, lam, lr, sigma)
are lanes of one vmap. Within a program, runs are bucketed by n so that padding waste stays
small, and buckets are split into chunks of at most ``max_lanes`` runs. Chunks are the unit of
work, of resumption and of task partitioning; their order is a pure function of the config.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from alignment import train
from alignment.data import DataSpec

LANE_AXES = ("n", "seed", "lam", "lr", "sigma")
STATIC_AXES = ("d", "m", "init")
RUN_COLUMNS = STATIC_AXES + LANE_AXES


def as_list(value) -> list:
    """A config field that may be a scalar or a sequence, as a list."""
    if isinstance(value, str | int | float | np.number):
        return [value]
    return list(value)


def expand(cfg) -> dict[str, np.ndarray]:
    """Every run of the grid as columns of equal length, in canonical order.

    Order: d, m, init, sigma, lam, lr, n, seed (seed fastest). The position in this table is
    the run's global id.
    """
    seeds = [cfg.seed_offset + i for i in range(cfg.num_seeds)]
    axes = {
        "d": as_list(cfg.d),
        "m": as_list(cfg.m),
        "init": as_list(cfg.init),
        "sigma": as_list(cfg.sigma),
        "lam": as_list(cfg.lam),
        "lr": as_list(cfg.lr),
        "n": as_list(cfg.n),
        "seed": seeds,
    }
    rows = list(itertools.product(*axes.values()))
    cols = {k: np.asarray([r[i] for r in rows]) for i, k in enumerate(axes)}
    return {k: cols[k] for k in RUN_COLUMNS}


def pad_size(n: int, multiple: int = 8) -> int:
    """Padded sample count for a bucket whose largest n is ``n``."""
    return int(-(-n // multiple) * multiple)


def buckets(n_values, max_waste: float = 0.5, multiple: int = 8) -> list[tuple[list[int], int]]:
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


@dataclasses.dataclass(frozen=True)
class Chunk:
    """A set of runs trained together by one compiled program."""

    index: int
    program: train.Program
    run_ids: tuple[int, ...]


def program_for(cfg, d: int, m: int, init: str, n_pad: int) -> train.Program:
    """The static program of a (d, m, init, bucket) cell of the grid."""
    return train.Program(
        data=DataSpec(
            name=cfg.data, d=int(d), x_dist=cfg.x_dist, symmetric=cfg.symmetric, spread=cfg.spread
        ),
        m=int(m),
        n_pad=int(n_pad),
        init=str(init),
        bias=cfg.bias,
        mirrored=cfg.mirrored,
        activation=cfg.activation,
        optimizer=cfg.optimizer,
        momentum=cfg.momentum,
        n_test=cfg.n_test,
        dtype=cfg.dtype,
        store_neurons_max=cfg.store_neurons_max,
    )


def plan(cfg, runs: dict[str, np.ndarray]) -> list[Chunk]:
    """Cuts the run table into chunks (deterministic order)."""
    chunks: list[Chunk] = []
    ids = np.arange(len(runs["n"]))
    for d, m, init in dict.fromkeys(zip(runs["d"], runs["m"], runs["init"], strict=True)):
        cell = ids[(runs["d"] == d) & (runs["m"] == m) & (runs["init"] == init)]
        multiple = 8
        for members, n_pad in buckets(runs["n"][cell], cfg.bucket_waste, multiple):
            in_bucket = cell[np.isin(runs["n"][cell], members)]
            prog = program_for(cfg, d, m, init, n_pad)
            for start in range(0, len(in_bucket), cfg.max_lanes):
                part = tuple(int(i) for i in in_bucket[start : start + cfg.max_lanes])
                chunks.append(Chunk(len(chunks), prog, part))
    return chunks


def lanes_for(runs: dict[str, np.ndarray], run_ids) -> train.Lanes:
    """The per-run values of a chunk's lanes."""
    idx = np.asarray(run_ids)
    return train.Lanes.make(**{k: runs[k][idx] for k in LANE_AXES})


def validate(cfg, runs: dict[str, np.ndarray]) -> list[Chunk]:
    """Checks every value of the grid and returns its chunks; raises ValueError before compute."""
    if cfg.num_seeds < 1:
        raise ValueError(f"num_seeds={cfg.num_seeds} must be >= 1")
    if cfg.max_lanes < 1:
        raise ValueError(f"max_lanes={cfg.max_lanes} must be >= 1")
    if not cfg.bucket_waste >= 0:
        raise ValueError(f"bucket_waste={cfg.bucket_waste} must be >= 0")
    for k in ("n", "lam", "lr", "sigma"):
        train.Lanes.make(**{a: 1 for a in LANE_AXES} | {k: runs[k]})
    chunks = plan(cfg, runs)
    for ch in chunks:
        ch.program.validate()
        for n in np.unique(runs["n"][list(ch.run_ids)]):
            ch.program.data.validate(n=int(n))
    return chunks
