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
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from alignment import checkpoint, grid, integrate, sharding, train
from alignment import judge as judge_mod


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


def continuation_program(cfg, prog):
    """The program live runs continue with: the chunk's own (``same``) or the flow integrator."""
    if cfg.continue_integrator == "same" or prog.integrator.name == "flow":
        return prog
    flow = integrate.Flow(**{k: float(v) for k, v in cfg.flow.items()})
    return dataclasses.replace(prog, integrator=flow)


def round_end(cfg, r: int) -> float:
    """The time round ``r`` of the loop ends at (round 0: ``max_time``; then x continue_factor
    each round, up to ``time_cap``)."""
    t = float(cfg.max_time)
    for _ in range(r):
        t = min(t * cfg.continue_factor, float(cfg.time_cap))
    return t


def round_times(cfg, r: int) -> np.ndarray:
    """Snapshot times of round ``r``: the chunk's grid, then per_call snapshots per decade
    (at least one) from the previous round's end."""
    if r == 0:
        return train.time_grid(cfg.max_time, cfg.num_snapshots, cfg.t_min)
    t0, t1 = round_end(cfg, r - 1), round_end(cfg, r)
    num = max(1, round(cfg.snapshots_per_decade * np.log10(t1 / t0)))
    return np.geomspace(t0, t1, num + 1)[1:]


def wants_more(cfg, loop: Loop, real: int) -> bool:
    """Whether round ``loop.round`` runs: always the first; later ones while a real run has
    no verdict and the cap is not reached."""
    if loop.round == 0:
        return True
    open_runs = np.any(np.isin(loop.verdict[:real], judge_mod.CONTINUE))
    return bool(open_runs) and round_end(cfg, loop.round - 1) < cfg.time_cap * (1 - 1e-12)


@dataclasses.dataclass
class Loop:
    """Where a chunk's verdict loop stands: everything a checkpoint keeps besides the state."""

    lanes: int
    round: int = 0  # 0: the pass to max_time; r >= 1: the r-th continuation
    call: int = 0  # compiled calls finished in this round
    snaps: dict | None = None  # snapshots of the finished rounds, (lanes, K, ...)
    new: dict | None = None  # this round's snapshots so far (NaN where not run yet)
    verdict: np.ndarray | None = None  # after the last finished round
    count: StepCount = dataclasses.field(default_factory=StepCount)

    def record(self, ids, start: int, host: dict, width: int) -> None:
        """Snapshots ``host`` of lanes ``ids`` (first len(ids) rows) at columns from start."""
        if self.new is None:
            self.new = {k: np.full((self.lanes, width, *v.shape[2:]), np.nan, v.dtype)
                        for k, v in host.items()}  # fmt: skip
        stop = min(start + next(iter(host.values())).shape[1], width)
        for k, v in host.items():
            self.new[k][ids, start:stop] = v[: len(ids), : stop - start]

    def end_round(self) -> None:
        new = self.new
        self.snaps = new if self.snaps is None else {
            k: np.concatenate([self.snaps[k], new[k]], axis=1) for k in self.snaps}  # fmt: skip
        self.new, self.round, self.call = None, self.round + 1, 0

    def to_tree(self) -> dict:
        tree = {"round": self.round, "call": self.call, "snaps": self.snaps or {},
                "new": self.new or {}, "computed": self.count.computed,
                "useful": self.count.useful}  # fmt: skip
        return tree if self.verdict is None else tree | {"verdict": self.verdict}

    @classmethod
    def from_tree(cls, tree: dict, lanes: int) -> Loop:
        count = StepCount(int(tree["computed"]), int(tree["useful"]))
        return cls(lanes, int(tree["round"]), int(tree["call"]), tree.get("snaps") or None,
                   tree.get("new") or None, tree.get("verdict"), count)  # fmt: skip


def round_batches(prog, lanes, loop: Loop, real: int) -> list[tuple[np.ndarray, int, int]]:
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


def run_round(prog, state, ctx, plan, times, per_call, loop: Loop, save):
    """The round's compiled calls from ``loop.call`` on, saving after each one."""
    calls = snapshot_calls(times, per_call)
    steps = [(b, j) for b in range(len(plan)) for j in range(len(calls))]
    current = None  # (batch, its lanes' state and constants), carried across its calls
    for b, j in steps[loop.call :]:
        ids, keep, real = plan[b]
        whole = len(plan) == 1 and keep == len(ids) == loop.lanes  # round 0: every lane
        if current is None or current[0] != b:
            current = (
                (b, state, ctx) if whole else (b, train.take(state, ids), train.take(ctx, ids))
            )
        _, sub, sub_ctx = current
        before = np.asarray(jax.device_get(sub.step))
        sub, snaps = train.train(prog, sub, sub_ctx, calls[j])
        host = _host(snaps)
        loop.count.add(before, host["step"], real)
        state = sub if whole else jax.block_until_ready(train.put(state, ids[:keep], sub))
        current = (b, sub, sub_ctx)
        loop.record(ids[:keep], j * per_call, host, len(times))
        loop.call += 1
        save(loop, state)
    return state


def _switched(cfg, prog, loop: Loop) -> bool:
    """Whether the state at ``loop``'s position was carried over to the continuation program."""
    moved = loop.round > 1 or (loop.round == 1 and loop.call > 0)
    return moved and continuation_program(cfg, prog) is not prog


def _state_from(tree: dict, template):
    """A TrainState from a checkpoint's leaves, checked against ``template``'s structure."""
    leaves, treedef = jax.tree_util.tree_flatten(template)
    if len(tree) != len(leaves):
        raise checkpoint.CheckpointError(f"{len(tree)} state arrays, expected {len(leaves)}")
    saved = [np.asarray(tree[f"{i:04d}"]) for i in range(len(leaves))]
    for i, (s, t) in enumerate(zip(saved, leaves, strict=True)):
        if s.shape != t.shape or s.dtype != t.dtype:
            raise checkpoint.CheckpointError(
                f"state array {i} is {s.dtype}{list(s.shape)}, expected {t.dtype}{list(t.shape)}"
            )
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(s) for s in saved])


def resume(store, cfg, chunk, state, ctx, judge) -> tuple:
    """(state, loop) where an earlier process left the chunk, or the fresh ones; an unusable
    checkpoint is reported (one log line) and the chunk starts over."""
    fresh = Loop(chunk.lanes)
    try:
        tree = None if store is None else store.load()
        if tree is None:
            return state, fresh
        loop = Loop.from_tree(tree["loop"], chunk.lanes)
        template = state
        if _switched(cfg, chunk.program, loop):
            template = train.switch_integrator(continuation_program(cfg, chunk.program), state, ctx)
        restored = _state_from(tree["state"], template)
        judge.restore(tree.get("judge", {}))
    except (checkpoint.CheckpointError, KeyError, ValueError) as e:
        logging.warning("chunk %d: checkpoint not used (%s); starting it over", chunk.index, e)
        judge.restore({})
        return state, fresh
    logging.info("chunk %d: resumed at round %d after %d calls", chunk.index, loop.round, loop.call)
    return restored, loop


def saver(store, judge):
    """save(loop, state): the checkpoint of this moment (nothing without a store)."""

    def save(loop: Loop, state) -> None:
        if store is not None:
            leaves = jax.tree_util.tree_leaves(jax.device_get(state))
            state_tree = {f"{i:04d}": np.asarray(x) for i, x in enumerate(leaves)}
            store.save({"loop": loop.to_tree(), "judge": judge.to_tree(), "state": state_tree})

    return save


def train_chunk(cfg, runs, chunk: grid.Chunk, store=None):
    """Trains one chunk through the verdict loop, resuming from ``store`` (a
    ``checkpoint.Store``) if an earlier process left a checkpoint, saving after every call.

    Verdicts are first taken at ``max_time`` (never earlier: during early alignment the loss
    sits flat at its initial value with a tiny gradient, which is not a stuck run). Runs without
    a verdict (undetermined, saddle) continue, with ``continuation_program``. Returns
    (snaps, verdict, ctx, state, count, evidence) for the chunk's real runs, on the host.
    """
    first, real = chunk.program, len(chunk.run_ids)
    lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
    state, ctx = train.init_runs(first, lanes)
    judge = judge_mod.Judge(cfg, first.family, chunk.lanes)
    state, loop = resume(store, cfg, chunk, state, ctx, judge)
    save = saver(store, judge)
    while wants_more(cfg, loop, real):
        prog = first if loop.round == 0 else continuation_program(cfg, first)
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
                chunk.index, int(live.sum()), real, round_end(cfg, loop.round - 1),
                round_end(cfg, loop.round),
            )  # fmt: skip
        times = round_times(cfg, loop.round)
        state = run_round(prog, state, ctx, plan, times, cfg.snapshots_per_decade, loop, save)
        loop.end_round()
        loop.verdict = judge(loop.snaps, state, ctx, live)
        save(loop, state)
    snaps = loop.snaps
    snaps["speed"] = judge_mod.stationarity_speed(cfg, snaps)
    keep = slice(0, real)
    snaps = {k: v[keep] for k, v in snaps.items()}
    ctx, state = jax.tree_util.tree_map(lambda x: np.asarray(x)[keep], jax.device_get((ctx, state)))
    return snaps, loop.verdict[keep], ctx, state, loop.count, judge.columns(keep)
