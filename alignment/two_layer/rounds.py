"""The verdict loop's rounds: when each ends, its snapshot times, and which runs it continues.

Round 0 trains every lane to ``max_time``; each later round multiplies the time by
``continue_factor`` and continues the runs without a verdict (``verdicts.OPEN``), up to
``time_cap``. Beyond it, up to ``escape_cap`` (a later cap, 0: none), continue only the open runs
whose end is near: at ``time_cap`` those whose certificates predict an escape from their saddle
(``predicted_escape_time``) or interpolation (``interp_time``) by ``escape_cap``, that sit at a
region minimum they leave across a kink (if that takes at most ``later_steps`` steps,
:func:`affordable`: nothing predicts where they go), or that are settling into a certified
minimum (:func:`near_end`), and after it those that continued in the round before, in rounds
of ``later_factor`` (shorter rounds take their verdicts more often, so a run that settles into
a minimum or interpolates early leaves its lane block early instead of stepping to the end of
a decade; nothing else stops a stuck run's steps inside a round). With a
step budget (``round_steps``), a run takes at most that many steps in a continuation round;
one it stops before the round's end stays open and is not continued (:func:`reached`). A run
waiting for a far escape, or moving across kinks, costs a whole decade of steps per round and
would likely still be open at the cap; a near one is decided by continuing it.
"""

from __future__ import annotations

import numpy as np

from alignment.engine import train
from alignment.two_layer import grid, records
from alignment.two_layer.verdict import polish, verdicts

REL = 1e-12  # relative slack on times that must meet (float64 products of the factor)
# the evidence near_end reads
NEAR_KEYS = ("predicted_escape_time", "interp_time", "kink_max", "polish_kappa")
NEAR_KEYS += ("polish_dist", "region_gap", "settle_time", "polish_gap", "polish_escape_time")


def last_cap(cfg) -> float:
    """The latest time any run is continued to: ``time_cap``, or ``escape_cap`` beyond it."""
    return max(float(cfg.time_cap), float(cfg.get("escape_cap", 0.0)))


def later_factor(cfg) -> float:
    """The factor of each round past ``time_cap``: ``later_factor``, or ``continue_factor``."""
    return float(cfg.get("later_factor", 0.0)) or float(cfg.continue_factor)


def round_end(cfg, r: int) -> float:
    """The time round ``r`` ends at (round 0: ``max_time``; then x continue_factor each round,
    up to ``time_cap``, then x :func:`later_factor` up to ``escape_cap``)."""
    t, cap, factor = float(cfg.max_time), float(cfg.time_cap), float(cfg.continue_factor)
    for _ in range(r):
        t = min(t * factor, cap)
        if t >= cap * (1 - REL):  # from the cap on, the later cap and factor hold
            cap, factor = last_cap(cfg), later_factor(cfg)
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
    ``time_cap`` only those with a near end (at the cap, :func:`near_end`) or that continued
    before."""
    if loop.round == 0:
        return np.ones(loop.lanes, bool)
    live = np.isin(loop.verdict, verdicts.OPEN)
    live[real:] = False  # padding lanes never continue
    t0 = round_end(cfg, loop.round - 1)
    live &= reached(loop.snaps, t0)  # not those stopped by their step budget (round_steps)
    if t0 < float(cfg.time_cap) * (1 - REL):
        return live
    if t0 >= last_cap(cfg) * (1 - REL):
        return np.zeros_like(live)
    if t0 > float(cfg.time_cap) * (1 + REL):  # past the cap: those that continued to t0
        return live
    cheap = affordable(cfg, loop.snaps, t0)
    return live & near_end(evidence, len(live), last_cap(cfg), cfg.verdict, cheap)


def reached(snaps: dict, t0: float) -> np.ndarray:
    """(lanes,) bool: runs whose record reaches ``t0`` (within their last step: a fixed-step
    run's time is a whole number of steps); one whose step budget (``round_steps``) stopped it
    earlier does not, nor one that did not continue."""
    t_final = records.last_value(snaps, "time")
    step = np.nan_to_num(records.mean_step(snaps), nan=0.0)
    return t_final + step >= t0 * (1 - REL)


def affordable(cfg, snaps: dict, t0: float) -> np.ndarray:
    """(lanes,) bool: runs whose steps from ``t0`` to the later cap, predicted from their last
    step size (``records.mean_step``), are at most ``later_steps`` (0: every run). Faithful GD
    steps min(lr, c / lambda_max): a run that sharpened to lambda_max = 50 takes 12x the steps
    of one at lr = 0.25 per unit of time, and one such lane holds up its whole lane block."""
    budget = float(cfg.get("later_steps", 0.0))
    steps = (last_cap(cfg) - t0) / records.mean_step(snaps)
    return np.full(len(steps), True) if budget == 0 else steps <= budget


def near_end(evidence: dict | None, lanes: int, cap: float, tol, cheap=True) -> np.ndarray:
    """(lanes,) bool: runs whose end is near (``evidence``: the last verdicts' numbers, ``tol``
    the verdict tolerances): an escape (``predicted_escape_time``) or interpolation
    (``interp_time``) predicted by ``cap``, also an escape from the region minimum the run is
    within ``gap_tol`` of (``polish_escape_time``, where a small neuron grows there); *leaving
    across a kink*, where ``cheap`` (:func:`affordable`): within ``gap_tol`` of a region
    minimum that a move across its kinks descends from (``kink_max`` above ``kink_tol``), so the
    flow leaves that minimum now, but nothing predicts where it goes, so only a cheap
    continuation is worth it; or *settling*: the region minimum ahead is certified a local
    minimum of the whole loss (no kink gain above ``kink_tol``, no growth above ``kappa_tol`` at
    the polished point) and the run is in its neighbourhood (``polish_dist`` < 1), within
    ``gap_tol`` of it, or gets there by ``cap`` at its recent rate (``settle_time``): such a run
    is called stuck once it is slow or within the gap (``verdicts.judge``: at_minimum,
    polished)."""
    ev = evidence or {}
    get = {k: np.asarray(ev.get(k, np.full(lanes, np.nan)), np.float64) for k in NEAR_KEYS}
    soon = (get["predicted_escape_time"] <= cap) | (get["interp_time"] <= cap)
    within_gap = get["region_gap"] < tol.gap_tol
    # at its region minimum, where a small neuron grows (polish.grows_there): its escape from
    # there, predicted at the polished point
    soon |= within_gap & polish.grows_there(get, lanes, tol) & (get["polish_escape_time"] <= cap)
    leaving = (get["kink_max"] > tol.kink_tol) & within_gap & cheap
    certified = ~(get["kink_max"] > tol.kink_tol) & (get["polish_kappa"] <= tol.kappa_tol)
    close = (get["polish_dist"] < 1.0) | within_gap | (get["settle_time"] <= cap)
    return soon | leaving | (certified & close)


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
