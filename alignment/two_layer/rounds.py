"""Where a chunk's verdict loop stands, and its checkpoints: rounds, positions, resuming.

The loop is a sequence of rounds (0: the pass to ``max_time``; then one per continuation, by
``continue_factor`` up to ``time_cap``), each a fixed list of compiled calls. :class:`Loop` is
everything the loop carries besides the lanes' TrainState (the chunk loop saves both after every
call, ``runner/chunk_loop.py``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from alignment.engine import integrate, train
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
