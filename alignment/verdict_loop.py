"""One chunk through the verdict loop: train, take verdicts, continue only the undecided runs.

A chunk's runs are trained on the snapshot grid up to ``max_time`` in one program. Runs without
a verdict (undetermined, saddle) then continue (never restarted: the same parameters carry on,
with the chunk's integrator or, with ``continue_integrator='flow'``, the flow) by a factor
``continue_factor`` of time at a time until each has a verdict or ``time_cap`` is reached.
Verdicts read the family's end-state certificates (:class:`Judge`, ``certificates.py``). Runs
with a verdict *leave*: the undecided ones are gathered into smaller calls whose lane counts
come from a short ladder (the chunk's lane count, then halvings down to two lanes a device),
so compiles stay few and no step is spent on a decided run. Lanes are grouped by the
integrator's group axes (e.g. the step size) so that no lane idles in a while loop waiting for
a slower one. A run's snapshots after it left are NaN (``last_snapshot`` marks its last).

The *stuck* test needs the run to be at an approximate stationary point. At a ReLU kink GD
zig-zags: the loss is flat and the parameters stand still, but the one-sided gradient stays
finite. With ``speed='displacement'`` (default) the verdict reads the parameters' mean speed
between the last two snapshots, ``|theta(t_k) - theta(t_{k-1})| / (t_k - t_{k-1})`` (the
trainer records the displacement for every run), which equals the gradient norm along gradient
flow at a smooth point and vanishes at a kink where GD no longer moves.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from absl import logging

from alignment import grid, integrate, sharding, train, verdicts

CONTINUE = ("undetermined", "saddle")  # verdicts that say nothing yet about the flow's end


def verdict_tolerances(cfg) -> dict:
    """The verdict tolerances of a config, as keyword arguments of verdicts.verdicts."""
    return {k: float(v) for k, v in cfg.verdict.items()}


def forward_fill(v_RxK: np.ndarray) -> np.ndarray:
    """NaN entries replaced by the last finite value to their left (NaN before any)."""
    ok = np.isfinite(v_RxK)
    idx = np.where(ok, np.arange(v_RxK.shape[1])[None, :], 0)
    idx = np.maximum.accumulate(idx, axis=1)
    out = np.take_along_axis(v_RxK, idx, axis=1)
    return np.where(ok.any(axis=1, keepdims=True) & (np.cumsum(ok, axis=1) > 0), out, np.nan)


def displacement_speed(time_RxK, displacement_RxK) -> np.ndarray:
    """|theta(t_k) - theta(t_{k-1})| / (t_k - t_{k-1}) per run and snapshot, shape (R, K).

    Snapshots that repeat the previous time (padded calls) or are absent (NaN: the run left)
    carry the last speed forward; the first snapshot is NaN.
    """
    time_RxK = np.asarray(time_RxK, np.float64)
    out = np.full(time_RxK.shape, np.nan)
    dt = np.diff(time_RxK, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.asarray(displacement_RxK, np.float64)[:, 1:]
        out[:, 1:] = np.where(dt > 0, step / dt, np.nan)
    return forward_fill(out)


def stationarity_speed(cfg, snaps: dict[str, np.ndarray]) -> np.ndarray:
    """What the verdict's gradient test reads: the displacement speed, or |grad L|."""
    if cfg.speed == "displacement":
        return displacement_speed(snaps["time"], snaps["displacement"])
    return np.asarray(snaps["grad_norm"], np.float64)


# per-run evidence of a verdict written to the chunk file and summary.csv (NaN where absent)
EVIDENCE_KEYS = ("decided_by", "grad_slope", "flat_change", "region_min", "region_gap",
                 "region_groups", "kappa_max", "predicted_escape_time", "small_alive",
                 "zero_neurons")  # fmt: skip


class Judge:
    """Verdicts of a chunk's runs with their evidence, updated as live runs continue.

    Each round reads the snapshots so far; the family's certificates (``certify``, if it has
    one) are computed at the current parameters of the runs that are live, not yet
    interpolating and whose loss is flat over the last decade (the only ones that can be stuck
    or a saddle): the QP and the ascent are never spent on runs still moving.
    """

    def __init__(self, cfg, family, num: int):
        self.cfg, self.family = cfg, family
        self.tol = verdict_tolerances(cfg)
        self.certs: dict | None = None
        self.evidence: dict = {}
        self.num = num

    def _verdicts(self, snaps, diverged):
        return verdicts.verdicts(
            snaps["time"], snaps["loss"], stationarity_speed(self.cfg, snaps),
            snaps["loss"][:, 0], diverged_R=diverged, certs=self.certs, details=True,
            **self.tol,
        )  # fmt: skip

    def __call__(self, snaps, state, ctx, live) -> np.ndarray:
        diverged = forward_fill(np.asarray(snaps["diverged"], np.float64))[:, -1] > 0
        verdict, diag = self._verdicts(snaps, diverged)
        certify = getattr(self.family, "certify", None)
        if certify is not None:
            cand = live & (diag["flat_change"] < self.tol["flat_tol"])
            cand &= (verdict != "interpolating") & ~diverged
            params, fctx = jax.device_get((state.params, ctx.family))
            new = certify(params, fctx, np.flatnonzero(cand))
            if self.certs is None:
                self.certs = new
            for k, v in new.items():  # live runs not certified now: stale, dropped
                self.certs[k] = np.where(cand, v, np.where(live, np.nan, self.certs[k]))
            verdict, diag = self._verdicts(snaps, diverged)
        self.evidence = {k: diag[k] for k in ("decided_by", "grad_slope", "flat_change",
                                               "region_gap")}  # fmt: skip
        self.evidence |= {k: v for k, v in (self.certs or {}).items()}
        return verdict

    def columns(self, keep) -> dict[str, np.ndarray]:
        """Evidence per run (the chunk's real runs ``keep``), every key of EVIDENCE_KEYS."""
        nan = np.full(self.num, np.nan)
        return {k: np.asarray(self.evidence.get(k, nan))[keep] for k in EVIDENCE_KEYS}


def _host(tree) -> dict[str, np.ndarray]:
    """Snapshots on the host; integer and bool records as float64 (NaN marks absent)."""
    out = {}
    for k, v in jax.device_get(tree).items():
        v = np.asarray(v)
        out[k] = v.astype(np.float64) if v.dtype.kind in "iub" else v
    return out


def snapshot_calls(times, per_call: int) -> list[np.ndarray]:
    """Cuts a time grid into calls of exactly ``per_call`` snapshots (the last one padded by
    repeating its final time), so every call of a program reuses one compiled scan length."""
    times = np.asarray(times, np.float64)
    calls = []
    for start in range(0, len(times), per_call):
        part = times[start : start + per_call]
        calls.append(np.concatenate([part, np.full(per_call - len(part), part[-1])]))
    return calls


@dataclasses.dataclass
class StepCount:
    """Integrator steps of a chunk: ``computed`` = lanes x the longest lane's steps in every
    segment (what a vmapped while loop executes), ``useful`` = steps of the chunk's real runs."""

    computed: int = 0
    useful: int = 0

    def add(self, steps_before, steps_RxK, real: int) -> None:
        steps = np.concatenate([np.asarray(steps_before, np.float64)[:, None], steps_RxK], axis=1)
        inc = np.diff(steps, axis=1)
        self.computed += int(np.sum(inc.max(axis=0)) * inc.shape[0])
        self.useful += int(np.sum(inc[:real]))


def train_calls(prog, state, ctx, times, per_call, count: StepCount, real: int):
    """Trains through ``times`` in fixed-length calls; returns state and the real snapshots."""
    parts = []
    for call in snapshot_calls(times, per_call):
        before = np.asarray(jax.device_get(state.step))
        state, snaps = train.train(prog, state, ctx, call)
        parts.append(_host(snaps))
        count.add(before, parts[-1]["step"], real)
    joined = {k: np.concatenate([p[k] for p in parts], axis=1)[:, : len(times)] for k in parts[0]}
    return state, joined


def lane_ladder(full: int) -> list[int]:
    """Lane counts a continuation call may have: ``full``, and below it the counts
    u, 1.5u, 2u, 3u, 4u, 6u, ... (u = two lanes a device, ``sharding.padded_count``), so a
    call carries at most a third of padding copies and a chunk compiles a few sizes at most."""
    mesh = sharding.default_mesh()
    ndev = 1 if mesh is None else mesh.size
    unit = sharding.padded_count(1, ndev)
    sizes, size = {full}, unit
    while size < full:
        sizes.add(size)
        sizes.add(min(full, sharding.padded_count(-(-3 * size // 2), ndev)))
        size *= 2
    return sorted(sizes)


def batches(prog, lanes: train.Lanes, live_ids: np.ndarray, full: int) -> list[np.ndarray]:
    """Live runs grouped by the integrator's group axes, each group in calls of ladder sizes
    (lane ids padded by repeating the last: the copies are dropped)."""
    out = []
    ladder = lane_ladder(full)
    for group in grid.integrator_groups(prog, lanes.values, live_ids):
        for start in range(0, len(group), ladder[-1]):
            part = group[start : start + ladder[-1]]
            size = next(s for s in ladder if s >= len(part))
            out.append(np.concatenate([part, np.full(size - len(part), part[-1])]))
    return out


def _continue(prog, state, ctx, lanes, live, times, per_call, count, full):
    """Continues the ``live`` runs through ``times``; the others get NaN snapshots."""
    new = None
    for ids in batches(prog, lanes, np.flatnonzero(live), full):
        k = len(np.unique(ids))
        sub_state, sub_ctx = train.take(state, ids), train.take(ctx, ids)
        sub_state, more = train_calls(prog, sub_state, sub_ctx, times, per_call, count, k)
        state = train.put(state, ids[:k], sub_state)
        if new is None:
            new = {key: np.full((len(live), *v.shape[1:]), np.nan, v.dtype)
                   for key, v in more.items()}  # fmt: skip
        for key, v in more.items():
            new[key][ids[:k]] = v[:k]
    return state, new


def continuation_program(cfg, prog):
    """The program live runs continue with: the chunk's own (``same``) or the flow integrator."""
    if cfg.continue_integrator == "same" or prog.integrator.name == "flow":
        return prog
    flow = integrate.Flow(**{k: float(v) for k, v in cfg.flow.items()})
    return dataclasses.replace(prog, integrator=flow)


def train_chunk(cfg, runs, chunk: grid.Chunk):
    """Trains one chunk through the verdict loop.

    Verdicts are first taken at ``max_time`` (never earlier: during early alignment the loss
    sits flat at its initial value with a tiny gradient, which is not a stuck run). Runs without
    a verdict (undetermined, saddle) continue, with ``continuation_program``. Returns
    (snaps, verdict, ctx, state, count, evidence) for the chunk's real runs, on the host.
    """
    prog, real = chunk.program, len(chunk.run_ids)
    lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
    per_call, count = cfg.snapshots_per_decade, StepCount()
    state, ctx = train.init_runs(prog, lanes)
    times = train.time_grid(cfg.max_time, cfg.num_snapshots, cfg.t_min)
    state, snaps = train_calls(prog, state, ctx, times, per_call, count, real)
    judge = Judge(cfg, prog.family, chunk.lanes)
    live = np.arange(chunk.lanes) < real
    verdict = judge(snaps, state, ctx, live)
    t_end = float(cfg.max_time)
    while np.any(np.isin(verdict[:real], CONTINUE)) and t_end < cfg.time_cap * (1 - 1e-12):
        t_next = min(t_end * cfg.continue_factor, float(cfg.time_cap))
        # per_call snapshots per decade of time, at least one per continuation
        num = max(1, round(per_call * np.log10(t_next / t_end)))
        live = np.isin(verdict, CONTINUE)
        live[real:] = False  # padding lanes never continue
        logging.info(
            "chunk %d: %d of %d runs without a verdict at t=%.3g; continuing to t=%.3g",
            chunk.index, int(live.sum()), real, t_end, t_next,
        )  # fmt: skip
        more_prog = continuation_program(cfg, prog)
        if more_prog is not prog:
            state, prog = train.switch_integrator(more_prog, state, ctx), more_prog
        more_times = np.geomspace(t_end, t_next, num + 1)[1:]
        state, more = _continue(
            prog, state, ctx, lanes, live, more_times, per_call, count, chunk.lanes
        )
        snaps = {k: np.concatenate([snaps[k], more[k]], axis=1) for k in snaps}
        verdict = judge(snaps, state, ctx, live)
        t_end = t_next
    snaps["speed"] = stationarity_speed(cfg, snaps)
    keep = slice(0, real)
    snaps = {k: v[keep] for k, v in snaps.items()}
    ctx, state = jax.tree_util.tree_map(lambda x: np.asarray(x)[keep], jax.device_get((ctx, state)))
    return snaps, verdict[keep], ctx, state, count, judge.columns(keep)
