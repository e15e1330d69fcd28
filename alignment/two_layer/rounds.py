"""Where a chunk's verdict loop stands, and its checkpoints: rounds, positions, resuming.

The loop is a sequence of rounds (0: the pass to ``max_time``; then one per continuation, by
``continue_factor`` up to ``time_cap``), each a fixed list of compiled calls. :class:`Loop` is
everything the loop carries besides the lanes' TrainState; :func:`saver` writes both to the
chunk's checkpoint after every call and :func:`resume` reads them back in a new process.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from alignment.engine import integrate, train
from alignment.runner import checkpoint
from alignment.two_layer import judge as judge_mod


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

    keep: np.ndarray  # (lanes,) bool: lanes whose per-neuron arrays are kept (compact rows)
    round: int = 0  # 0: the pass to max_time; r >= 1: the r-th continuation
    call: int = 0  # compiled calls finished in this round
    snaps: dict | None = None  # snapshots of the finished rounds, (lanes, K, ...)
    new: dict | None = None  # this round's snapshots so far (NaN where not run yet)
    verdict: np.ndarray | None = None  # after the last finished round
    count: StepCount = dataclasses.field(default_factory=StepCount)

    @property
    def lanes(self) -> int:
        return len(self.keep)

    def record(self, ids, start: int, host: dict, width: int) -> None:
        """Snapshots ``host`` of lanes ``ids`` (first len(ids) rows) at columns from start.

        Per-snapshot scalars keep a row per lane; per-neuron arrays (more than 2 axes) a row
        per kept lane only (``keep``): they are most of the bytes, and the chunk file keeps
        nothing else of them."""
        if self.new is None:
            rows = {k: self.lanes if v.ndim == 2 else int(self.keep.sum()) for k, v in host.items()}
            self.new = {k: np.full((rows[k], width, *v.shape[2:]), np.nan, v.dtype)
                        for k, v in host.items()}  # fmt: skip
        stop = min(start + next(iter(host.values())).shape[1], width)
        compact = np.cumsum(self.keep) - 1  # lane -> its row among the kept lanes
        kept = self.keep[ids]
        for k, v in host.items():
            v = v[: len(ids), : stop - start]
            if v.ndim == 2:
                self.new[k][ids, start:stop] = v
            elif kept.any():
                self.new[k][compact[ids[kept]], start:stop] = v[kept]

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
    def from_tree(cls, tree: dict, keep: np.ndarray) -> Loop:
        count = StepCount(int(tree["computed"]), int(tree["useful"]))
        return cls(keep, int(tree["round"]), int(tree["call"]),
                   tree.get("snaps") or None, tree.get("new") or None, tree.get("verdict"),
                   count)  # fmt: skip


def _switched(cfg, prog, loop: Loop) -> bool:
    """Whether the state at ``loop``'s position was carried over to the continuation program."""
    moved = loop.round > 1 or (loop.round == 1 and loop.call > 0)
    return moved and continuation_program(cfg, prog) is not prog


def state_from(tree: dict, template):
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


def resume(store, cfg, chunk, state, ctx, judge, keep) -> tuple:
    """(state, loop) where an earlier process left the chunk, or the fresh ones; an unusable
    checkpoint is reported (one log line) and the chunk starts over."""
    fresh = Loop(keep)
    try:
        tree = None if store is None else store.load()
        if tree is None:
            return state, fresh
        loop = Loop.from_tree(tree["loop"], keep)
        template = state
        if _switched(cfg, chunk.program, loop):
            template = train.switch_integrator(continuation_program(cfg, chunk.program), state, ctx)
        restored = state_from(tree["state"], template)
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
            # device arrays: the store copies them to the host inside its timed save
            leaves = jax.tree_util.tree_leaves(state)
            state_tree = {f"{i:04d}": x for i, x in enumerate(leaves)}
            store.save({"loop": loop.to_tree(), "judge": judge.to_tree(), "state": state_tree})

    return save


def state_leaves(state) -> dict[str, jax.Array]:
    """A TrainState's leaves keyed for a checkpoint (the inverse of :func:`state_from`)."""
    return {f"{j:04d}": x for j, x in enumerate(jax.tree_util.tree_leaves(state))}


def train_calls(prog, state, ctx, calls, keys, done: int = 0, joined=None, save=None):
    """Trains through ``calls[done:]`` (snapshot-time arrays), appending each call's snapshots
    ``keys`` (host arrays, run x snapshot) to ``joined``; ``save(calls_done, joined, state)``
    after every call (a checkpoint). Returns (state, joined)."""
    for i in range(done, len(calls)):
        state, snaps = train.train(prog, state, ctx, calls[i])
        new = {k: np.asarray(jax.device_get(snaps[k])) for k in keys}
        joined = new if joined is None else {
            k: np.concatenate([joined[k], new[k]], axis=1) for k in keys
        }  # fmt: skip
        if save is not None:
            save(i + 1, joined, state)
    return state, joined
