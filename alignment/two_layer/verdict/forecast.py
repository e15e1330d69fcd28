"""Forecasts of an open run's end from its recent loss decay: when it interpolates
(``interp_time``) and when it settles within the gap of its region's minimum (``settle_time``).

Host-side numpy on a run's record (``verdicts.verdict_diagnostics``). Neither forecast decides a
verdict: past ``time_cap`` the verdict loop continues only the open runs whose end is near
(``rounds.near_end``), and these times say which.
"""

from __future__ import annotations

import numpy as np

# interp_time reads the loss decay of the last quarter decade (10 snapshots at 40 per decade),
# not the whole last decade: a run still fitting speeds up as its neurons align, and the decade's
# mean rate puts its interpolation later than it comes. threshold_wide at t = 2.5e4 (BENCHMARKS.md
# "Forecasting interpolation and settling", `python -m benchmarks.interp_forecast`): of run (d)'s
# 11 open runs at n = 181 the decade forecast 3 by the later cap 1e5, this window 9. The time only
# picks the runs continued past time_cap; their verdict still waits for the tolerance.
FORECAST_DECADES = 0.25


def recent_anchor(times, loss, valid, t_f, slack, decades=FORECAST_DECADES):
    """(time, loss) (R,) of each run's latest snapshot at or before t_f / 10^decades (-inf
    where none): the start of the window :func:`interpolation_time` reads."""
    ok = valid & (times > 0) & (times <= t_f[:, None] / 10**decades * (1 + slack))
    t_anchor = np.max(np.where(ok, times, -np.inf), axis=1)
    at_anchor = valid & (times == t_anchor[:, None])
    return t_anchor, np.max(np.where(at_anchor, loss, -np.inf), axis=1)


def interpolation_time(t_f, l_f, t_anchor, l_anchor, loss_tol) -> np.ndarray:
    """(R,) when a run reaches the interpolation tolerance if its loss keeps the power-law
    decay of its recent window (:func:`recent_anchor`), L ~ t^-p with
    p = log(L(t_anchor) / L_f) / log(t_f / t_anchor): t_f (L_f / tol)^(1/p). A power law is
    the slow end of what a decaying loss does (an exponential approach gets there sooner);
    inf where the loss did not fall over the window or no window is recorded."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = np.log(l_anchor / l_f) / np.log(t_f / t_anchor)
        t = t_f * np.exp(np.log(np.maximum(l_f / loss_tol, 1.0)) / p)
    return np.where(np.isfinite(t) & (p > 0), t, np.inf)


def settling_time(d: dict, region_min, gap_tol: float) -> np.ndarray:
    """(R,) when a run's excess over its region's minimum, L - region_min, falls to
    ``gap_tol * region_min`` (about within ``gap_tol`` of it, where 'at_minimum' can call it
    stuck) if it keeps the power-law decay of its recent window (:func:`interpolation_time` on
    the excess); its final time where it is there already; inf where the excess did not fall,
    the loss at the window's start was under the minimum (another region) or no minimum was
    computed."""
    rmin = np.asarray(region_min, np.float64)
    with np.errstate(invalid="ignore"):
        excess_f = np.maximum(d["final_loss"] - rmin, 0.0)
        excess_a = d["recent_loss"] - rmin
        t = interpolation_time(
            d["final_time"], excess_f, d["recent_time"], excess_a, gap_tol * rmin
        )
        done = excess_f <= gap_tol * rmin
    return np.where(np.isfinite(rmin) & (rmin > 0), np.where(done, d["final_time"], t), np.inf)
