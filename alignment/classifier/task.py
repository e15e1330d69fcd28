"""The chunk loop's task of one classifier chunk: its base runs, then (removal) each base run
retrained from the same init without its stragglers S(t_inv) and without as many random points
(0/1 sample weights in the same program), and the chunk file it ends with."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from alignment.classifier import claims as cls_claims
from alignment.classifier import stats as class_stats
from alignment.classifier.chunks import (
    BITS,
    RUN_COLUMNS,
    SNAPSHOT_KEYS,
    call_length,
    lanes_for,
    times_for,
)
from alignment.engine import train
from alignment.runner import chunk_loop
from alignment.runner.chunks import Chunk


def removal_masks(cfg, runs, kids: np.ndarray, base: np.ndarray, base_snaps: dict, n: int):
    """Per retraining run, the removed training points (bool, n): its parent's stragglers
    S(t_inv) by ``removal_rule``, or as many random points; none when the parent has no
    inversion."""
    removed = np.zeros((len(kids), n), bool)
    for j, kid in enumerate(kids):
        b = int(np.flatnonzero(base == runs["parent"][kid])[0])
        t = cls_claims.inversion_at(
            cfg, base_snaps["R_0"][b], base_snaps["R_1"][b], cfg.removal_rule
        )
        if t is None:
            continue
        stragglers = class_stats.unpack(base_snaps[BITS][b, t], n)
        if runs["phase"][kid] == "no_stragglers":
            removed[j] = stragglers
        else:
            rng = np.random.default_rng(
                [cfg.removal_seed, int(runs["seed"][kid]), int(runs["subset"][kid])]
            )
            removed[j, rng.choice(n, int(stragglers.sum()), replace=False)] = True
    return removed


class Task:
    """One chunk for the chunk loop: its base runs (phase 0), then (removal) their retrainings
    from the same inits with 0/1 sample weights (phase 1, twice the lanes), each phase in
    calls of ``snapshots_per_call`` snapshots. ``book`` = {phase, call, snaps: this phase's
    snapshots so far, base: the base runs' snapshots once phase 0 is done}."""

    def __init__(self, cfg, runs, chunk: Chunk):
        self.cfg, self.runs, self.chunk, self.prog = cfg, runs, chunk, chunk.program
        ids = np.asarray(chunk.run_ids)
        self.base = ids[runs["phase"][ids] == "base"]
        self.kids = ids[runs["phase"][ids] != "base"]
        times = times_for(cfg, float(runs["lr"][ids[0]]))
        self.calls = chunk_loop.snapshot_calls(times, call_length(cfg))
        self.num = cfg.steps // cfg.snapshot_every + 1  # the last call is padded beyond it
        self.phases = {}  # phase -> (fresh state, ctx)

    def start(self, phase: int, base_snaps=None):
        """The fresh state and constants of a phase (phase 1: the removal weights)."""
        if phase not in self.phases:
            members, lanes = self.base, self.chunk.lanes
            if phase == 1:
                members, lanes = self.kids, 2 * self.chunk.lanes
            state, ctx = train.init_runs(self.prog, lanes_for(self.runs, members, lanes))
            if phase == 1:
                weights = (~self.masks(base_snaps)).astype(float)
                pad = np.concatenate([weights, np.repeat(weights[-1:], lanes - len(weights), 0)])
                w8 = jnp.asarray(pad, ctx.family["w8"].dtype)
                ctx = ctx._replace(family={**ctx.family, "w8": w8})
            self.phases[phase] = (state, ctx)
        return self.phases[phase]

    def masks(self, base_snaps) -> np.ndarray:
        cfg, n = self.cfg, self.prog.family.n
        return removal_masks(cfg, self.runs, self.kids, self.base, base_snaps, n)

    def fresh(self):
        return {"phase": 0, "call": 0, "snaps": {}}, self.start(0)[0]

    def template(self, book):
        return self.start(int(book["phase"]), book.get("base"))[0]

    def done(self, book) -> bool:
        last = 1 if len(self.kids) else 0
        return int(book["phase"]) == last and int(book["call"]) >= len(self.calls)

    def advance(self, book, state):
        if int(book["call"]) >= len(self.calls):  # phase 0 done: the retrainings start
            base = self.phase_snaps(book, self.base)
            book, state = {"phase": 1, "call": 0, "snaps": {}, "base": base}, self.start(1, base)[0]
        phase, call = int(book["phase"]), int(book["call"])
        ctx = self.start(phase, book.get("base"))[1]
        state, snaps = train.train(self.prog, state, ctx, self.calls[call])
        new = {k: np.asarray(jax.device_get(snaps[k])) for k in (*SNAPSHOT_KEYS, BITS, "time")}
        snaps = chunk_loop.joined(book["snaps"], new)
        return {**book, "call": call + 1, "snaps": snaps}, state

    def progress(self, book) -> tuple[float, str]:
        phases, n = (2 if len(self.kids) else 1), len(self.calls)
        phase, call = int(book["phase"]), int(book["call"])
        which = "base runs" if phase == 0 else "retrainings"
        return (phase * n + call) / (phases * n), f"{which}: call {call}/{n}"

    def phase_snaps(self, book, members) -> dict:
        return {k: np.asarray(v)[: len(members), : self.num] for k, v in book["snaps"].items()}

    def dataset(self, book, state) -> xr.Dataset:
        n = self.prog.family.n
        if int(book["phase"]) == 0:
            parts = [self.phase_snaps(book, self.base)]
            removed = np.zeros((len(self.base), n), bool)
        else:
            base = {k: np.asarray(v) for k, v in book["base"].items()}
            parts = [base, self.phase_snaps(book, self.kids)]
            removed = np.concatenate([np.zeros((len(self.base), n), bool), self.masks(base)])
        snaps = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        ids = np.concatenate([self.base, self.kids])
        return chunk_dataset(self.cfg, self.runs, self.chunk, ids, snaps, removed)


def train_chunk(cfg, runs, chunk: Chunk, store=None) -> xr.Dataset:
    """The chunk's base runs, then (removal) their retrainings, through the chunk loop."""
    return chunk_loop.run(Task(cfg, runs, chunk), store, chunk.index)


def chunk_dataset(cfg, runs, chunk, ids, snaps: dict, removed) -> xr.Dataset:
    """The chunk file: per-snapshot statistics (run x snapshot; the misclassified sets run x
    snapshot x byte), the run settings, the removed points (bit-packed), steps, verdict."""
    dims = ("run", "snapshot")
    ds = xr.Dataset(
        {k: (dims, snaps[k].astype(np.float64)) for k in SNAPSHOT_KEYS},
        coords={
            "run": ids,
            "time": (dims, snaps["time"].astype(np.float64)),
            "step_index": ("snapshot", np.arange(snaps["time"].shape[1]) * cfg.snapshot_every),
        },
    )
    ds[BITS] = ((*dims, "byte"), snaps[BITS].astype(np.uint8))
    ds["removed_bits"] = (("run", "byte"), np.packbits(removed, axis=1))
    ds["removed"] = ("run", removed.sum(axis=1))
    for k in RUN_COLUMNS:
        ds[k] = ("run", runs[k][ids])
    diverged = np.asarray(snaps["diverged"][:, -1], bool)
    ds["diverged_run"] = ("run", diverged)
    ds["verdict"] = ("run", np.where(diverged, "diverged", "finished"))
    ds.attrs |= {
        "family": "classifier",
        "chunk": chunk.index,
        "program": chunk.sweep,
        "n_train": chunk.program.family.n,
        "activation": cfg.activation,
        "head": cfg.head,
        "init": cfg.init,
        "m": cfg.m,
        "source": cfg.source,
    }
    return ds
