"""Polish: a run near its region's minimum, moved there and certified there (DESIGN.md section 2,
"Deciding moving runs").

A run that is still approaching the minimum of its activation region cannot be called stuck by
its flatness (its last decade still shows the approach). If that minimum is a local minimum of
the whole loss (the kink test at the QP's solution, ``certificates.kink_test``), the run can be
*polished*: the QP's solution ``V*_g`` (one vector per (pattern, sign) group; of the face of
minimizers, the one nearest the run, ``certificates.nearest_minimum``) is mapped back to
balanced parameters and certified there, and the run is checked to lie in the neighbourhood of
``V*`` where that certificate speaks: closer to it than any data point's hyperplane is, so that
no other kink lies between them. Host-side numpy, float64.

- :func:`balanced_at`: the parameters at ``V*``: each group's members share ``V*_g`` in
  proportion to their current sizes ``|a_j| |theta_j|``, all along ``V*_g``, balanced
  (``|a_j| = |theta_j|``, the sign of ``a_j`` kept, so ``theta_j`` is along ``s V*_g``). A
  group whose vector vanishes at the minimum keeps its members as they are (they are small
  there: the escape test's business).
- :func:`polish_test`: ``polish_kappa`` (the escape test's largest growth rate at the polished
  point: with its residual, a neuron that is small there must not grow), ``polish_gap``
  (the polished loss against the region minimum, relative: the mapping is exact up to
  rounding, so this checks it), ``polish_dist`` (``max_g |V_g - V*_g| / |V*_g|``, the run's
  distance from the minimum) and ``polish_margin`` (``min`` over groups and over data points
  off ``V*_g``'s hyperplane of ``|<V*_g, x_i>| / (|V*_g| |x_i|)``: the smallest relative move
  of a group vector that changes its pattern). With ``polish_dist < polish_margin`` the ball
  around ``V*`` that holds the run meets no hyperplane but those ``V*`` lies on (whose kinks
  the kink test judged): the run is in the neighbourhood whose local minimum is certified.
  (The segment between the run and ``V*`` stays in the region's closure anyway, the region
  being convex; the margin is what makes the neighbourhood ``V*``'s own.)
"""

from __future__ import annotations

import numpy as np

from alignment.two_layer import certificates

POLISH_KEYS = ("polish_kappa", "polish_gap", "polish_dist", "polish_margin")
NONE = {"polish_kappa": np.nan, "polish_gap": np.nan, "polish_dist": np.inf, "polish_margin": 0.0}


def balanced_at(theta_MxD, a_M, solution, v_GxD):
    """(theta, a) at the region minimum: group g's members j get ``c_j V*_g`` with
    ``c_j = |v_j| / sum_g |v_k|``, split as ``a_j = s sqrt(|c_j V*_g|)``,
    ``theta_j = c_j V*_g / a_j``; other neurons (dead, or in a group that vanishes) unchanged."""
    theta, a = np.array(theta_MxD, np.float64), np.array(a_M, np.float64)
    size_M = np.abs(a) * np.linalg.norm(theta, axis=1)
    v_max = float(np.max(np.linalg.norm(v_GxD, axis=1)))
    for (_, sgn, members), v in zip(solution, v_GxD, strict=True):
        norm = np.linalg.norm(v)
        share = size_M[members] / np.sum(size_M[members])
        if not norm > certificates.ACTIVE_REL * v_max or not np.all(np.isfinite(share)):
            continue
        scale = np.sqrt(share * norm)  # |a_j| = |theta_j| = sqrt(|c_j V*_g|)
        a[members] = sgn * scale  # a_j theta_j = c_j V*_g: theta along s V*_g
        theta[members] = sgn * (v / norm)[None, :] * scale[:, None]
    return theta, a


def polish_test(theta_MxD, a_M, x_NxD, y_N, region: dict) -> dict[str, float]:
    """:data:`POLISH_KEYS` of a run at the region minimum ``region`` (the dict of
    ``certificates.region_minimum``); :data:`NONE` where there is no solution."""
    solution, v_GxD = region.get("solution"), region.get("v_GxD")
    if not solution or v_GxD is None:
        return dict(NONE)
    theta = np.asarray(theta_MxD, np.float64)
    a = np.asarray(a_M, np.float64)
    x = np.asarray(x_NxD, np.float64)
    y = np.asarray(y_N, np.float64)
    theta_p, a_p = balanced_at(theta, a, solution, v_GxD)
    resid = np.maximum(theta_p @ x.T, 0.0).T @ a_p - y
    loss_p = 0.5 * float(resid @ resid) / len(y)
    v_norm = np.linalg.norm(v_GxD, axis=1)
    live = v_norm > certificates.ACTIVE_REL * np.max(v_norm)
    dist = np.linalg.norm(region["v_run_GxD"] - v_GxD, axis=1)
    x_norm = np.linalg.norm(x, axis=1)
    cos = np.abs(v_GxD[live] @ x.T) / (v_norm[live, None] * x_norm[None, :])
    off_plane = cos > certificates.ACTIVE_REL
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = (loss_p - region["region_min"]) / region["region_min"]
    return {
        "polish_kappa": float(certificates.escape_test(theta_p, a_p, x, y)["kappa_max"]),
        "polish_gap": float(gap),
        "polish_dist": float(np.max(dist[live] / v_norm[live])) if live.any() else np.inf,
        "polish_margin": float(np.min(cos[off_plane])) if off_plane.any() else np.inf,
    }


def heads_there(certs: dict, R: int, tol) -> np.ndarray:
    """(R,) bool: the polished point certifies (no small neuron grows there: ``polish_kappa``
    <= ``kappa_tol``; its loss is the region minimum to ``gap_tol``) and the run is in its
    neighbourhood (``polish_dist < polish_margin``). False where not computed."""
    get = {k: np.asarray((certs or {}).get(k, np.full(R, np.nan)), np.float64) for k in NONE}
    with np.errstate(invalid="ignore"):
        kappa_ok = ~(get["polish_kappa"] > tol.kappa_tol) & ~np.isnan(get["polish_kappa"])
        loss_ok = np.abs(get["polish_gap"]) < tol.gap_tol
        inside = get["polish_dist"] < get["polish_margin"]
    return kappa_ok & loss_ok & inside
