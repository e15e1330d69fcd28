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

The loop is a sequence of rounds (0: the pass to ``max_time``; then one per continuation), each
a fixed list of compiled calls. After every call the carried state (every lane's TrainState,
the snapshots so far, the position, the certificates, the step counts: ``rounds.Loop``)
is saved to the chunk's checkpoint (``checkpoint.Store``); a new process resumes at the same
position and, the programs being deterministic, ends with the same results.
"""

from __future__ import annotations

import jax
import numpy as np
from absl import logging

from alignment.engine import sharding, train
from alignment.two_layer import grid, rounds
from alignment.two_layer import judge as judge_mod


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


def round_batches(prog, lanes, loop: rounds.Loop, real: int) -> list[tuple[np.ndarray, int, int]]:
    """(lane ids, lanes to keep, real lanes) of each call series of this round: all lanes in
    round 0, then the live runs in ladder-sized batches."""
    if loop.round == 0:
        return [(np.arange(loop.lanes), loop.lanes, real)]
    live = np.isin(loop.verdict, judge_mod.CONTINUE)
    live[real:] = False  # padding lanes never continue
    out = []
    for ids in batches(prog, lanes, np.flatnonzero(live), loop.lanes):
        k = len(np.unique(ids))
        out.append((ids, k, k))
    return out


def run_round(prog, state, ctx, plan, times, per_call, loop: rounds.Loop, save):
    """The round's compiled calls from ``loop.call`` on, saving after each one."""
    calls = snapshot_calls(times, per_call)
    steps = [(b, j) for b in range(len(plan)) for j in range(len(calls))]
    current = None  # (batch, its lanes' state and constants), carried across its calls
    for b, j in steps[loop.call :]:
        ids, keep, real = plan[b]
        whole = len(plan) == 1 and keep == len(ids) == loop.lanes  # round 0: every lane
        if current is None or current[0] != b:
            current = (
                (b, state, ctx)
                if whole
                else (b, sharding.take(state, ids), sharding.take(ctx, ids))
            )
        _, sub, sub_ctx = current
        before = np.asarray(jax.device_get(sub.step))
        sub, snaps = train.train(prog, sub, sub_ctx, calls[j])
        host = _host(snaps)
        loop.count.add(before, host["step"], real)
        state = sub if whole else jax.block_until_ready(sharding.put(state, ids[:keep], sub))
        current = (b, sub, sub_ctx)
        loop.record(ids[:keep], j * per_call, host, len(times))
        loop.call += 1
        save(loop, state)
    return state


def calls_of(cfg) -> int:
    """Snapshots per compiled call: ``snapshots_per_call``, or one decade's worth (0)."""
    return int(cfg.snapshots_per_call) or int(cfg.snapshots_per_decade)


def train_chunk(cfg, runs, chunk: grid.Chunk, store=None, keep_neurons=None):
    """Trains one chunk through the verdict loop, resuming from ``store`` (a
    ``checkpoint.Store``) if an earlier process left a checkpoint, saving after every call.

    Verdicts are first taken at ``max_time`` (never earlier: during early alignment the loss
    sits flat at its initial value with a tiny gradient, which is not a stuck run). Runs without
    a verdict (undetermined, saddle) continue, with ``continuation_program``. Returns
    (snaps, verdict, ctx, state, count, evidence) for the chunk's real runs, on the host;
    per-neuron snapshot arrays hold the runs ``keep_neurons`` (bool per real run; default all)
    only, in their order.
    """
    first, real = chunk.program, len(chunk.run_ids)
    lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
    state, ctx = train.init_runs(first, lanes)
    judge = judge_mod.Judge(cfg, first.family, chunk.lanes)
    keep = np.zeros(chunk.lanes, bool)
    keep[:real] = True if keep_neurons is None else np.asarray(keep_neurons, bool)
    state, loop = rounds.resume(store, cfg, chunk, state, ctx, judge, keep)
    save = rounds.saver(store, judge)
    while rounds.wants_more(cfg, loop, real):
        prog = first if loop.round == 0 else rounds.continuation_program(cfg, first)
        if loop.round == 1 and loop.call == 0 and prog is not first:
            state = train.switch_integrator(prog, state, ctx)
        plan = round_batches(prog, lanes, loop, real)
        live = np.zeros(chunk.lanes, bool)
        for ids, keep, _ in plan:
            live[ids[:keep]] = True
        live[real:] = False
        if loop.round > 0 and loop.call == 0:
            logging.info(
                "chunk %d: %d of %d runs without a verdict at t=%.3g; continuing to t=%.3g",
                chunk.index, int(live.sum()), real, rounds.round_end(cfg, loop.round - 1),
                rounds.round_end(cfg, loop.round),
            )  # fmt: skip
        times = rounds.round_times(cfg, loop.round)
        state = run_round(prog, state, ctx, plan, times, calls_of(cfg), loop, save)
        loop.end_round()
        loop.verdict = judge(loop.snaps, state, ctx, live)
        save(loop, state)
    snaps = loop.snaps
    snaps["speed"] = judge_mod.stationarity_speed(cfg, snaps)
    out = slice(0, real)
    snaps = {k: v[out] if v.ndim == 2 else v for k, v in snaps.items()}
    ctx, state = jax.tree_util.tree_map(lambda x: np.asarray(x)[out], jax.device_get((ctx, state)))
    return snaps, loop.verdict[out], ctx, state, loop.count, judge.columns(out)
