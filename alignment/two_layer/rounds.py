"""The verdict loop's rounds: when each ends, its snapshot times, and which runs it continues.

Round 0 trains every lane to ``max_time``; each later round multiplies the time by
``continue_factor`` and continues the runs without a verdict (``verdicts.OPEN``), up to
``time_cap``. Beyond it, up to ``escape_cap`` (a later cap, 0: none), continue the open runs
whose end is not known to be far: at ``time_cap`` every open run except those whose one way on
is predicted beyond ``escape_cap`` (an escape from a saddle, ``predicted_escape_time``, or
interpolation on its way, ``interp_time``: :func:`far_end`), and after it those that continued
in the round before. A run waiting for a far escape costs a whole decade of steps per round and
would still be open at the cap; a near escape, a run settling into a certified minimum, a
moving run or one leaving across a kink is decided by continuing it.
"""

from __future__ import annotations

import numpy as np

from alignment.engine import train
from alignment.two_layer import grid, records, verdicts

REL = 1e-12  # relative slack on times that must meet (float64 products of the factor)


def last_cap(cfg) -> float:
    """The latest time any run is continued to: ``time_cap``, or ``escape_cap`` beyond it."""
    return max(float(cfg.time_cap), float(cfg.get("escape_cap", 0.0)))


def round_end(cfg, r: int) -> float:
    """The time round ``r`` ends at (round 0: ``max_time``; then x continue_factor each round,
    up to ``time_cap``, then up to ``escape_cap``)."""
    t, cap = float(cfg.max_time), float(cfg.time_cap)
    for _ in range(r):
        t = min(t * cfg.continue_factor, cap)
        if t >= cap * (1 - REL):  # from the cap on, the later cap holds
            cap = last_cap(cfg)
    return t


def round_times(cfg, r: int) -> np.ndarray:
    """Snapshot times of round ``r``: the chunk's first grid, then snapshots_per_decade per
    decade (at least one) from the previous round's end."""
    if r == 0:
        return train.time_grid(cfg.max_time, cfg.num_snapshots, cfg.t_min)
    t0, t1 = round_end(cfg, r - 1), round_end(cfg, r)
    num = max(1, round(cfg.snapshots_per_decade * np.log10(t1 / t0)))
    return np.geomspace(t0, t1, num + 1)[1:]


def continuing(cfg, loop: records.Loop, real: int, evidence: dict | None) -> np.ndarray:
    """(lanes,) bool: the runs round ``loop.round`` continues: open real runs; past
    ``time_cap`` only those without a far predicted end (at the cap, :func:`far_end`) or that
    continued before."""
    if loop.round == 0:
        return np.ones(loop.lanes, bool)
    live = np.isin(loop.verdict, verdicts.OPEN)
    live[real:] = False  # padding lanes never continue
    t0 = round_end(cfg, loop.round - 1)
    if t0 < float(cfg.time_cap) * (1 - REL):
        return live
    if t0 >= last_cap(cfg) * (1 - REL):
        return np.zeros_like(live)
    t_final = np.nanmax(np.asarray(loop.snaps["time"], np.float64), axis=1)
    if t0 > float(cfg.time_cap) * (1 + REL):  # past the cap: those that continued to t0
        return live & (t_final >= t0 * (1 - REL))
    flat_tol = float(cfg.verdict.flat_tol)
    return live & ~far_end(evidence, len(live), last_cap(cfg), flat_tol)


# what a run waits for when its verdict's criterion is one of these: an escape, interpolation
WAITS_FOR = {"escape": "predicted_escape_time", "escaping": "predicted_escape_time"}
WAITS_FOR |= {"on_its_way": "interp_time"}
ESCAPES = ("escape", "escaping")  # a run waiting for these sits on a plateau (when flat)


def far_end(evidence: dict | None, lanes: int, cap: float, flat_tol: float) -> np.ndarray:
    """(lanes,) bool: runs whose one way on is predicted beyond ``cap``: decided_by 'escape'
    or 'escaping' with ``predicted_escape_time`` > cap while flat (``flat_change`` <
    ``flat_tol``: a run that still moves has more than the escape ahead), 'on_its_way' with
    ``interp_time`` > cap (``WAITS_FOR``). Other open runs (moving, settling, at a kink) have
    no such prediction and are not far."""
    ev = evidence or {}
    nan = np.full(lanes, np.nan)
    why = np.asarray(ev.get("decided_by", np.full(lanes, "")), str)
    moving = ~(np.asarray(ev.get("flat_change", nan), np.float64) < flat_tol)
    far = np.zeros(lanes, bool)
    for name, key in WAITS_FOR.items():
        t = np.asarray(ev.get(key, nan), np.float64)
        far |= (why == name) & ~(t <= cap) & ~(np.isin(name, ESCAPES) & moving)
    return far


def wants_more(cfg, loop: records.Loop, real: int, evidence: dict | None = None) -> bool:
    """Whether round ``loop.round`` runs: always the first; later ones while a run it would
    continue exists (:func:`continuing`)."""
    return bool(np.any(continuing(cfg, loop, real, evidence)))


def round_batches(cfg, prog, lanes, loop: records.Loop, real: int, evidence=None) -> list:
    """(lane ids, live mask) of each call of this round: every lane in round 0, then the
    continuing runs, sorted by speed, one call of the chunk's lane count per integrator group
    (``grid.batches``)."""
    if loop.round == 0:
        return [(np.arange(loop.lanes), np.ones(loop.lanes, bool))]
    live = continuing(cfg, loop, real, evidence)
    step_R = records.mean_step(loop.snaps)
    return grid.batches(prog, lanes, np.flatnonzero(live), loop.lanes, step_R)
