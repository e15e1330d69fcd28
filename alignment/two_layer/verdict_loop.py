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
from alignment.runner import chunk_loop
from alignment.runner.chunks import Chunk
from alignment.two_layer import grid, records, rounds
from alignment.two_layer import judge as judge_mod


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


def calls_of(cfg) -> int:
    """Snapshots per compiled call: ``snapshots_per_call``, or one decade's worth (0)."""
    return int(cfg.snapshots_per_call) or int(cfg.snapshots_per_decade)


class Task:
    """One chunk of the threshold job for the chunk loop (``runner/chunk_loop.py``).

    ``book`` = {loop: :class:`rounds.Loop` as a tree, judge: the certificates and evidence}.
    Each :meth:`advance` is one compiled call of the current round, or, once the round's calls
    are done, the round's verdicts (``Judge``), which decide the next round's live runs.
    """

    def __init__(self, cfg, runs, chunk: Chunk, keep_neurons=None):
        self.cfg, self.runs, self.chunk, self.first = cfg, runs, chunk, chunk.program
        self.real = len(chunk.run_ids)
        self.lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
        self.state0, self.ctx = train.init_runs(self.first, self.lanes)
        self.judge = judge_mod.Judge(cfg, self.first.family, chunk.lanes)
        self.keep = np.zeros(chunk.lanes, bool)
        self.keep[: self.real] = True if keep_neurons is None else np.asarray(keep_neurons, bool)
        self.current = None  # ((round, batch), its lanes' state and constants) between calls

    def loop(self, book) -> rounds.Loop:
        return rounds.Loop.from_tree(book["loop"], self.keep)

    def book(self, loop: rounds.Loop) -> dict:
        return {"loop": loop.to_tree(), "judge": self.judge.to_tree()}

    def fresh(self):
        self.judge.restore({})
        return self.book(rounds.Loop(self.keep)), self.state0

    def template(self, book):
        """The state's structure at ``book``: switched to the continuation integrator once
        round 1 has made a call."""
        loop = self.loop(book)
        moved = loop.round > 1 or (loop.round == 1 and loop.call > 0)
        prog = rounds.continuation_program(self.cfg, self.first)
        if moved and prog is not self.first:
            return train.switch_integrator(prog, self.state0, self.ctx)
        return self.state0

    def _round(self, loop):
        """(program, call series, snapshot calls, times) of the loop's current round."""
        first = self.first
        prog = first if loop.round == 0 else rounds.continuation_program(self.cfg, first)
        plan = round_batches(prog, self.lanes, loop, self.real)
        times = rounds.round_times(self.cfg, loop.round)
        return prog, plan, chunk_loop.snapshot_calls(times, calls_of(self.cfg)), times

    def done(self, book) -> bool:
        loop = self.loop(book)
        return loop.call == 0 and not rounds.wants_more(self.cfg, loop, self.real)

    def advance(self, book, state):
        loop = self.loop(book)
        self.judge.restore(book.get("judge", {}))
        prog, plan, calls, times = self._round(loop)
        steps = [(b, j) for b in range(len(plan)) for j in range(len(calls))]
        if loop.call < len(steps):
            if loop.call == 0:
                state = self._start_round(prog, state, loop, plan)
            state = self._call(prog, state, plan, steps[loop.call], calls, loop, len(times))
            loop.call += 1
        else:
            live = live_lanes(plan, loop.lanes, self.real)
            loop.end_round()
            loop.verdict = self.judge(loop.snaps, state, self.ctx, live)
        return self.book(loop), state

    def _start_round(self, prog, state, loop, plan):
        """Before a round's first call: switch integrator (round 1) and say what continues."""
        if loop.round == 1 and prog is not self.first:
            state = train.switch_integrator(prog, state, self.ctx)
        if loop.round > 0:
            logging.info(
                "chunk %d: %d of %d runs without a verdict at t=%.3g; continuing to t=%.3g",
                self.chunk.index,
                int(live_lanes(plan, loop.lanes, self.real).sum()),
                self.real,
                rounds.round_end(self.cfg, loop.round - 1),
                rounds.round_end(self.cfg, loop.round),
            )
        return state

    def _call(self, prog, state, plan, step, calls, loop, width):
        """One compiled call of batch ``b`` (its lanes' state carried across its calls)."""
        b, j = step
        ids, keep, real = plan[b]
        whole = len(plan) == 1 and keep == len(ids) == loop.lanes  # round 0: every lane
        if self.current is None or self.current[0] != (loop.round, b):
            if whole:
                self.current = ((loop.round, b), state, self.ctx)
            else:
                taken = sharding.take(state, ids), sharding.take(self.ctx, ids)
                self.current = ((loop.round, b), *taken)
        _, sub, sub_ctx = self.current
        before = np.asarray(jax.device_get(sub.step))
        sub, snaps = train.train(prog, sub, sub_ctx, calls[j])
        host = chunk_loop.host_snapshots(snaps)
        loop.count.add(before, host["step"], real)
        state = sub if whole else jax.block_until_ready(sharding.put(state, ids[:keep], sub))
        self.current = ((loop.round, b), sub, sub_ctx)
        loop.record(ids[:keep], j * len(calls[j]), host, width)
        return state

    def result(self, book, state):
        """(snaps, verdict, ctx, state, count, evidence) of the chunk's real runs, on the
        host; per-neuron snapshot arrays hold the kept runs only, in their order."""
        loop = self.loop(book)
        self.judge.restore(book.get("judge", {}))
        snaps = dict(loop.snaps)
        snaps["speed"] = judge_mod.stationarity_speed(self.cfg, snaps)
        out = slice(0, self.real)
        snaps = {k: v[out] if v.ndim == 2 else v for k, v in snaps.items()}
        ctx, state = jax.device_get((self.ctx, state))
        ctx, state = jax.tree_util.tree_map(lambda x: np.asarray(x)[out], (ctx, state))
        return snaps, loop.verdict[out], ctx, state, loop.count, self.judge.columns(out)

    def dataset(self, book, state):
        """The chunk file: the snapshots, verdicts, evidence and step counts of its runs."""
        snaps, verdict, ctx, state, count, evidence = self.result(book, state)
        attrs = {"steps_computed": count.computed, "steps_useful": count.useful}
        keep = self.keep[: self.real]
        ds = records.chunk_dataset(self.runs, self.chunk, snaps, verdict, ctx, state, keep, attrs)
        for k, v in evidence.items():
            ds[k] = ("run", np.asarray(v))
        return ds


def live_lanes(plan, lanes: int, real: int) -> np.ndarray:
    """(lanes,) bool: the lanes a round's call series train (padding lanes never live)."""
    live = np.zeros(lanes, bool)
    for ids, keep, _ in plan:
        live[ids[:keep]] = True
    live[real:] = False
    return live


def train_chunk(cfg, runs, chunk: Chunk, store=None, keep_neurons=None):
    """Trains one chunk through the verdict loop (the chunk loop with a :class:`Task`),
    resuming from ``store`` and saving after every call; returns :meth:`Task.result`.

    Verdicts are first taken at ``max_time`` (never earlier: during early alignment the loss
    sits flat at its initial value with a tiny gradient, which is not a stuck run). Runs without
    a verdict (undetermined, saddle) continue, with ``rounds.continuation_program``.
    """
    task = Task(cfg, runs, chunk, keep_neurons)
    book, state = chunk_loop.train(task, store, chunk.index)
    return task.result(book, state)
