"""Polish: a run near its region's minimum, moved there and certified there (DESIGN.md section 2,
"Deciding moving runs").

A run that is still approaching the minimum of its activation region cannot be called stuck by
its flatness (its last decade still shows the approach). If that minimum is a local minimum of
the whole loss (the kink test at the QP's solution, ``kinks.kink_test``), the run can be
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
  point, with the region minimum's residual: a neuron that is small there must not grow; every
  minimizer of the region has that residual, so it is the growth rate the run's small neurons
  meet once it has arrived, whichever minimizer it arrives at), ``polish_escape_time`` (the
  escape test's predicted time there), ``polish_gap`` (the polished loss against the region
  minimum, relative: the mapping is exact up to rounding and the members it keeps, so this
  checks it), ``polish_dist`` (:func:`reach`: the largest angle between a
  group's vector at the run and at the minimum, in units of that group's margin, the angle
  that turns ``V*_g`` across the nearest data point's hyperplane it is not on) and
  ``polish_margin`` (the smallest margin's sine, for the record). With ``polish_dist < 1``
  every group's direction at the run lies closer to its direction at ``V*`` than any
  hyperplane but those ``V*`` lies on (whose kinks the kink test judged): the run is in the
  neighbourhood whose local minimum is certified. Only directions count, since patterns
  depend on directions only: a group still growing along its direction (a small neuron whose
  growth the minimum absorbs) is as near as one that has arrived. (The segment between the
  run and ``V*`` stays in the region's closure anyway, the region being convex; the margin is
  what makes the neighbourhood ``V*``'s own.)
"""

from __future__ import annotations

import numpy as np

from alignment.two_layer.verdict import certificates, kinks

POLISH_KEYS = ("polish_kappa", "polish_escape_time", "polish_gap", "polish_dist", "polish_margin")
NONE = {"polish_kappa": np.nan, "polish_escape_time": np.inf, "polish_gap": np.nan}
NONE |= {"polish_dist": np.inf, "polish_margin": 0.0}


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
        if not norm > kinks.ACTIVE_REL * v_max or not np.all(np.isfinite(share)):
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
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = (loss_p - region["region_min"]) / region["region_min"]
    # with the region minimum's own residual: the polished point keeps the members of a group
    # that vanishes there as they are (threshold_wide n = 64 seed 10: small groups of 8e-5 whose
    # minimum is ~1e-7 put 2.9e-4 into its residual, and a growth rate of 2.9e-6 where the
    # minimum's residual gives 2.4e-13)
    escape = certificates.escape_test(theta_p, a_p, x, y, resid_N=region.get("resid_N"))
    return {
        "polish_kappa": float(escape["kappa_max"]),
        "polish_escape_time": float(escape["escape_time"]),
        "polish_gap": float(gap),
        "polish_dist": reach(region["v_run_GxD"], v_GxD, x),
        "polish_margin": float(np.min(margins(v_GxD, x))),
    }


def margins(v_GxD, x_NxD) -> np.ndarray:
    """(G,) each group's margin: ``min`` over data points off ``V_g``'s hyperplane of
    ``|<V_g, x_i>| / (|V_g| |x_i|)``, the sine of the smallest angle that turns ``V_g``
    across a data point's hyperplane (inf for a group that is not live, |V_g| at most
    ACTIVE_REL of the largest, or that has no point off its hyperplane)."""
    v_norm = np.linalg.norm(v_GxD, axis=1)
    live = v_norm > kinks.ACTIVE_REL * np.max(v_norm)
    x_norm = np.linalg.norm(x_NxD, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.abs(v_GxD @ x_NxD.T) / (v_norm[:, None] * x_norm[None, :])
    cos = np.where(cos > kinks.ACTIVE_REL, cos, np.inf)
    return np.where(live, np.min(cos, axis=1, initial=np.inf), np.inf)


def reach(v_from_GxD, v_to_GxD, x_NxD) -> float:
    """How far ``v_from`` is from ``v_to`` in units of ``v_to``'s margins, worst group:
    ``max_g angle(V_from_g, V_to_g) / asin(margin_g)`` over live groups.
    Below 1, each group's direction lies closer to ``V_to_g``'s than any hyperplane that
    ``V_to_g`` is not on, so no pattern changes between them (patterns depend on directions
    only: a group that grows or shrinks along its direction moves by nothing here)."""
    v_from, v_to = np.asarray(v_from_GxD, np.float64), np.asarray(v_to_GxD, np.float64)
    margin_G = margins(v_to, x_NxD)  # inf: no hyperplane to meet, no turn limited
    bound = np.where(np.isinf(margin_G), np.inf, np.arcsin(np.minimum(margin_G, 1.0)))
    to_norm = np.linalg.norm(v_to, axis=1)
    norms = np.linalg.norm(v_from, axis=1) * to_norm
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(norms > 0, np.sum(v_from * v_to, axis=1) / norms, -1.0)
    ratio = np.arccos(np.clip(cos, -1.0, 1.0)) / bound  # a vector at 0 is pi away
    live = to_norm > kinks.ACTIVE_REL * np.max(to_norm)
    return float(np.max(ratio[live], initial=0.0))


def _polish_numbers(certs: dict, R: int) -> dict[str, np.ndarray]:
    """The polish test's numbers of R runs as float (R,) arrays, NaN where absent."""
    return {k: np.asarray((certs or {}).get(k, np.full(R, np.nan)), np.float64) for k in NONE}


def grows_there(certs: dict, R: int, tol) -> np.ndarray:
    """(R,) bool: a small neuron grows at the region minimum (``polish_kappa`` above
    ``kappa_tol`` at a polished point whose loss is the region minimum to ``gap_tol``). The
    minimum is then no local minimum of the whole loss: a run that arrives there leaves it,
    whatever its small neurons do now. False where not computed."""
    get = _polish_numbers(certs, R)
    with np.errstate(invalid="ignore"):
        return (get["polish_kappa"] > tol.kappa_tol) & (np.abs(get["polish_gap"]) < tol.gap_tol)


def heads_there(certs: dict, R: int, tol) -> np.ndarray:
    """(R,) bool: the polished point certifies (no small neuron grows there: ``polish_kappa``
    <= ``kappa_tol``; its loss is the region minimum to ``gap_tol``) and the run is in its
    neighbourhood (``polish_dist < 1``). False where not computed."""
    get = _polish_numbers(certs, R)
    with np.errstate(invalid="ignore"):
        kappa_ok = ~(get["polish_kappa"] > tol.kappa_tol) & ~np.isnan(get["polish_kappa"])
        loss_ok = np.abs(get["polish_gap"]) < tol.gap_tol
        inside = get["polish_dist"] < 1.0
    return kappa_ok & loss_ok & inside
