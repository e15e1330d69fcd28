"""One threshold chunk through the verdict loop: train, take verdicts, continue only the open runs.

A chunk's runs are trained on the snapshot grid up to ``max_time`` in one program. Runs without
a verdict (``verdicts.OPEN``: undetermined, saddle) then continue (never restarted: the same
parameters carry on, with the chunk's integrator or, with ``continue_integrator='flow'``, the
flow) by a factor ``continue_factor`` of time at a time until each has a verdict or ``time_cap``
is reached (and, with ``escape_cap``, those whose end is near beyond it: ``rounds.py``). Runs
with a verdict *leave*: the open ones are gathered to the front of the lane blocks of a call
with the chunk's own lane count (``grid.call_layout``), so the chunk's one compiled program
serves every round, and the decided lanes beside them take no step (a block of them ends its
while loops at once). Lanes are grouped by the integrator's group axes (e.g. the step size)
and by speed, so that no lane idles in a while loop waiting for a much slower one. A run's
snapshots after it left are NaN (``last_snapshot`` marks its last).

The loop is a sequence of rounds (0: the pass to ``max_time``; then one per continuation), each
a fixed list of compiled calls, then the round's verdicts: the certificates of the runs that can
be stuck (``certificates.py``, through the family's ``certify``) and one call of the pure
``verdicts.judge``. :class:`Task` is the chunk loop's task (``runner/chunk_loop.py``): its book
holds the record so far (``records.Loop``), the certificates and the evidence, saved with the
lanes' state after every call; a new process resumes at the same position and, the programs
being deterministic, ends with the same results.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
from absl import logging

from alignment.engine import gather, integrate, train
from alignment.runner import chunk_loop
from alignment.runner.chunks import Chunk
from alignment.two_layer import grid, records, rounds
from alignment.two_layer.rounds import round_end, round_times, wants_more
from alignment.two_layer.verdict import tolerances, verdicts

ROUND0_SHARE = 0.8  # of a chunk's progress: the pass to max_time (later rounds: open runs)


def calls_of(cfg) -> int:
    """Snapshots per compiled call: ``snapshots_per_call``, or one decade's worth (0)."""
    return int(cfg.snapshots_per_call) or int(cfg.snapshots_per_decade)


def continuation_program(cfg, prog):
    """The program live runs continue with: the chunk's own (``same``) or the flow integrator."""
    if cfg.continue_integrator == "same" or prog.integrator.name == "flow":
        return prog
    flow = integrate.Flow(**{k: float(v) for k, v in cfg.flow.items()})
    return dataclasses.replace(prog, integrator=flow)


def live_lanes(plan, lanes: int, real: int) -> np.ndarray:
    """(lanes,) bool: the lanes a round's call series train (padding lanes never live)."""
    live = np.zeros(lanes, bool)
    for ids, on in plan:
        live[ids[on]] = True
    live[real:] = False
    return live


def stop_below(cfg, loop) -> np.ndarray | None:
    """(lanes,) the loss under which each run is decided interpolating (``tolerances.interp_tol``
    of its loss at t = 0), where it stops stepping (``train.train``); None before the first
    snapshot, or with ``stop_interpolated`` off. Along the flow the loss only falls, so the
    verdict of a run that stopped there can no longer change."""
    snaps = loop.snaps if loop.snaps is not None else loop.new
    if not cfg.get("stop_interpolated", False) or snaps is None:
        return None
    scale = np.asarray(snaps["loss"][:, 0], np.float64)
    tol = verdicts.VerdictTolerances.from_config(cfg.verdict)
    return np.where(np.isfinite(scale), tolerances.interp_tol(scale, tol), -np.inf)


def step_limit(cfg, loop) -> np.ndarray | None:
    """(lanes,) the step count at which each run stops in this continuation round: its steps
    at the round's start plus ``round_steps`` (None in round 0, or with no budget)."""
    budget = int(cfg.get("round_steps", 0))
    if loop.round == 0 or budget == 0:
        return None
    start = records.last_value(loop.snaps, "step")
    return np.where(np.isfinite(start), start, 0).astype(np.int64) + budget


def budget_stops(loop, live, limit, evidence) -> np.ndarray:
    """(lanes,) 1.0 where a run this round continued stopped at its step budget (``limit``,
    :func:`step_limit`), 0.0 where it did not; the earlier value for the others."""
    before = (evidence or {}).get("budget_stop")
    before = np.zeros(loop.lanes) if before is None else np.asarray(before, np.float64)
    if limit is None:
        return np.where(live, 0.0, before)
    steps = records.last_value(loop.snaps, "step")
    return np.where(live, (steps >= limit).astype(np.float64), before)


def round_verdicts(cfg, family, snaps, params, fctx, live, certs):
    """(verdict, certificates, evidence) at a round's end: the live runs that can be stuck
    (``verdicts.needs_certificates``) are certified at their current parameters (host arrays),
    the other live runs' certificates are dropped as stale; then one call of the verdict."""
    tol = verdicts.VerdictTolerances.from_config(cfg.verdict)
    record = records.run_record(cfg, snaps)
    cand = live & verdicts.needs_certificates(record, tol)
    new = family.certify(params, fctx, np.flatnonzero(cand), kappa_tol=tol.kappa_tol)
    old = certs or new
    certs = {k: np.where(cand, v, np.where(live, np.nan, old[k])) for k, v in new.items()}
    verdict, details = verdicts.judge(record, certs, tol)
    return verdict, certs, verdicts.evidence(details)


class Task:
    """One chunk of the threshold job for the chunk loop (``runner/chunk_loop.py``).

    ``book`` = {loop: the record so far (``records.Loop`` as a tree), certs: the certificates,
    evidence: the last verdicts' numbers}. Each :meth:`advance` is one compiled call of the
    current round or, once the round's calls are done, its verdicts (:func:`round_verdicts`),
    which decide the next round's live runs.
    """

    def __init__(self, cfg, runs, chunk: Chunk, keep_neurons=None):
        self.cfg, self.runs, self.chunk, self.first = cfg, runs, chunk, chunk.program
        self.real = len(chunk.run_ids)
        self.lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
        self.state0, self.ctx = train.init_runs(self.first, self.lanes)
        self.keep = np.zeros(chunk.lanes, bool)
        self.keep[: self.real] = True if keep_neurons is None else np.asarray(keep_neurons, bool)
        self.current = None  # ((round, batch), its lanes' state and constants) between calls

    def loop(self, book) -> records.Loop:
        return records.Loop.from_tree(book["loop"], self.keep)

    def fresh(self):
        return {"loop": records.Loop(self.keep).to_tree()}, self.state0

    def template(self, book):
        """The state's structure at ``book``: switched to the continuation integrator once
        round 1 has made a call."""
        loop = self.loop(book)
        moved = loop.round > 1 or (loop.round == 1 and loop.call > 0)
        prog = continuation_program(self.cfg, self.first)
        if moved and prog is not self.first:
            return train.switch_integrator(prog, self.state0, self.ctx)
        return self.state0

    def _round(self, loop, book=None):
        """(program, call series, snapshot calls, times) of the loop's current round."""
        first = self.first
        prog = first if loop.round == 0 else continuation_program(self.cfg, first)
        evidence = (book or {}).get("evidence")
        plan = rounds.round_batches(self.cfg, prog, self.lanes, loop, self.real, evidence)
        times = round_times(self.cfg, loop.round)
        return prog, plan, chunk_loop.snapshot_calls(times, calls_of(self.cfg)), times

    def done(self, book) -> bool:
        loop = self.loop(book)
        return loop.call == 0 and not wants_more(self.cfg, loop, self.real, book.get("evidence"))

    def advance(self, book, state):
        loop = self.loop(book)
        prog, plan, calls, times = self._round(loop, book)
        steps = [(b, j) for b in range(len(plan)) for j in range(len(calls))]
        if loop.call < len(steps):
            if loop.call == 0:
                state = self._start_round(prog, state, loop, plan)
            state = self._call(prog, state, plan, steps[loop.call], calls, loop, len(times))
            loop.call += 1
            return {**book, "loop": loop.to_tree()}, state
        live = live_lanes(plan, loop.lanes, self.real)
        limit = step_limit(self.cfg, loop)
        loop.end_round()
        params, fctx = jax.device_get((state.params, self.ctx.family))
        family, certs = self.first.family, book.get("certs")
        verdict, certs, ev = round_verdicts(self.cfg, family, loop.snaps, params, fctx, live, certs)
        ev["budget_stop"] = budget_stops(loop, live, limit, book.get("evidence"))
        loop.verdict = verdict
        return {"loop": loop.to_tree(), "certs": certs, "evidence": ev}, state

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
                round_end(self.cfg, loop.round - 1),
                round_end(self.cfg, loop.round),
            )
        return state

    def _call(self, prog, state, plan, step, calls, loop, width):
        """One compiled call of batch ``b`` (its lanes' state carried across its calls)."""
        b, j = step
        ids, on = plan[b]
        # every lane in the chunk's own order (round 0): the call trains the state as it is.
        # A continuation's lanes sorted by speed are a permutation even when all are live
        whole = len(plan) == 1 and on.all() and np.array_equal(ids, np.arange(loop.lanes))
        if self.current is None or self.current[0] != (loop.round, b):
            if whole:
                self.current = ((loop.round, b), state, self.ctx)
            else:
                taken = gather.take(state, ids), gather.take(self.ctx, ids)
                self.current = ((loop.round, b), *taken)
        _, sub, sub_ctx = self.current
        before = np.asarray(jax.device_get(sub.step))
        stop, limit = stop_below(self.cfg, loop), step_limit(self.cfg, loop)
        stop = None if stop is None else stop[ids]
        limit = None if limit is None else limit[ids]
        active = None if on.all() else on
        sub, snaps = train.train(
            prog, sub, sub_ctx, calls[j], active=active, stop_below=stop, step_limit=limit
        )
        host = chunk_loop.host_snapshots(snaps)
        block = train.block_size(prog, len(ids))
        loop.count.add(before, host["step"], on & (ids < self.real), block)
        state = sub if whole else jax.block_until_ready(gather.put(state, ids, sub, on))
        self.current = ((loop.round, b), sub, sub_ctx)
        loop.record(ids[on], j * len(calls[j]), {k: v[on] for k, v in host.items()}, width)
        return state

    def result(self, book, state):
        """(snaps, verdict, ctx, state, count, evidence) of the chunk's real runs, on the
        host; per-neuron snapshot arrays hold the kept runs only, in their order."""
        loop = self.loop(book)
        snaps = dict(loop.snaps)
        snaps["speed"] = records.stationarity_speed(self.cfg, snaps)
        out = slice(0, self.real)
        snaps = {k: v[out] if v.ndim == 2 else v for k, v in snaps.items()}
        ctx, state = jax.device_get((self.ctx, state))
        ctx, state = jax.tree_util.tree_map(lambda x: np.asarray(x)[out], (ctx, state))
        evidence = {k: np.asarray(v)[out] for k, v in book["evidence"].items()}
        return snaps, loop.verdict[out], ctx, state, loop.count, evidence

    def progress(self, book) -> tuple[float, str]:
        """Round 0 (every lane, t_min to max_time) is taken as most of a chunk, ROUND0_SHARE,
        counted by its calls; the continuations share the rest by log time up to time_cap."""
        loop, cfg = self.loop(book), self.cfg
        if loop.round == 0:
            _, plan, calls, _ = self._round(loop)
            done = loop.call / max(len(plan) * len(calls), 1)
            return ROUND0_SHARE * done, f"to t={cfg.max_time:g}: call {loop.call}"
        t = round_end(cfg, loop.round - 1)
        span = np.log(rounds.last_cap(cfg) / cfg.max_time)
        later = np.log(t / cfg.max_time) / span if span > 0 else 1.0
        decided = int(np.sum(~np.isin(loop.verdict[: self.real], verdicts.OPEN)))
        status = f"{decided}/{self.real} runs decided by t={t:.3g}"
        return ROUND0_SHARE + (1 - ROUND0_SHARE) * later, status

    def dataset(self, book, state):
        """The chunk file: the snapshots, verdicts, evidence and step counts of its runs."""
        snaps, verdict, ctx, state, count, evidence = self.result(book, state)
        attrs = {"steps_computed": count.computed, "steps_useful": count.useful}
        keep = self.keep[: self.real]
        ds = records.chunk_dataset(self.runs, self.chunk, snaps, verdict, ctx, state, keep, attrs)
        for k, v in evidence.items():
            ds[k] = ("run", np.asarray(v))
        return ds


def train_chunk(cfg, runs, chunk: Chunk, store=None, keep_neurons=None):
    """Trains one chunk through the verdict loop (the chunk loop with a :class:`Task`),
    resuming from ``store`` and saving after every call; returns :meth:`Task.result`.

    Verdicts are first taken at ``max_time`` (never earlier: during early alignment the loss
    sits flat at its initial value with a tiny gradient, which is not a stuck run).
    """
    task = Task(cfg, runs, chunk, keep_neurons)
    book, state = chunk_loop.train(task, store, chunk.index)
    return task.result(book, state)
