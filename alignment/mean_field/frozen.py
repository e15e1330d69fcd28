"""The frozen-a control of claim (iii) (DESIGN.md section 3): the converged train error
e_tr,inf(gamma) of the frozen runs, the interpolation threshold gamma_GF* read off it, and the
trained runs' final gamma and late (gamma, train) against that curve (host numpy)."""

from __future__ import annotations

import numpy as np


def frozen_curve(scale_R, train_R) -> tuple[np.ndarray, np.ndarray]:
    """e_tr,inf(gamma): the median converged train error of the frozen runs at each gamma."""
    gammas = np.unique(scale_R)
    return gammas, np.array([np.median(train_R[scale_R == g]) for g in gammas])


def gamma_threshold(gammas, e_tr, level: float) -> tuple[float, str]:
    """gamma_GF*: where e_tr(gamma) first falls to ``level`` (log-log interpolation between
    the bracketing grid points); (nan, why) when the grid does not bracket it."""
    below = np.flatnonzero(e_tr <= level)
    if not below.size:
        return float("nan"), "no frozen gamma of the grid interpolates: gamma* is above it"
    k = below[0]
    if k == 0:
        return float(gammas[0]), "the smallest frozen gamma already interpolates: gamma* <= it"
    lg, le = np.log(gammas[k - 1 : k + 1]), np.log(np.maximum(e_tr[k - 1 : k + 1], 1e-300))
    frac = (np.log(level) - le[0]) / (le[1] - le[0])
    return float(np.exp(lg[0] + frac * (lg[1] - lg[0]))), "interpolated"


def _late_ratio(traj, rows, gammas, e_tr) -> list | None:
    """log10 of train(t) / e_tr(gamma(t)) over late snapshots (t >= m) inside the grid."""
    t, g, loss = (traj[k].values[rows] for k in ("time", "gamma", "loss"))
    m = traj["m"].values[rows][:, None]
    late = (t >= m) & (g >= gammas[0]) & (g <= gammas[-1]) & (loss > 0)
    if not late.any() or len(gammas) < 2:
        return None
    curve = np.exp(np.interp(np.log(g[late]), np.log(gammas), np.log(np.maximum(e_tr, 1e-300))))
    r = np.log10(loss[late] / curve)
    return [float(np.median(r)), float(r.min()), float(r.max())]


def _end_over_tenth(t_RxK, loss_RxK) -> float:
    """Convergence evidence: the largest train(t_end) / train(t_end / 10) over the runs."""
    tenth = [np.interp(t[-1] / 10, t, x) for t, x in zip(t_RxK, loss_RxK, strict=True)]
    return float(np.max(loss_RxK[:, -1] / np.maximum(tenth, 1e-300)))


def cell(traj, derived, frozen, trained, level: float) -> dict:
    """One (target, tau, m): the frozen curve, gamma_GF* and the trained runs against it."""
    gammas, e_tr = frozen_curve(traj["scale"].values[frozen], derived["final_train"][frozen])
    g_star, how = gamma_threshold(gammas, e_tr, level)
    final = derived["final_gamma"][trained]
    ratio = float(np.median(final) / g_star) if final.size and np.isfinite(g_star) else None
    return {
        "gamma": gammas.tolist(),
        "e_tr": e_tr.tolist(),
        "gamma_star": g_star,
        "gamma_star_how": how,
        "final_gamma": [float(np.median(final)), float(final.min()), float(final.max())]
        if final.size
        else None,
        "final_gamma_over_gamma_star": ratio,
        "late_log10_train_over_curve": _late_ratio(traj, trained, gammas, e_tr),
        "frozen_train_end_over_tenth": _end_over_tenth(
            traj["time"].values[frozen], traj["loss"].values[frozen]
        ),
    }
