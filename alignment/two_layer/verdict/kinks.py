"""The kink test: is a region minimum a local minimum of the whole loss across its kinks?
(DESIGN.md section 2, "Kinks and clusters".) Host-side numpy, float64.

At the region minimum (one vector ``V_g`` per (pattern, sign) group, the residual ``r`` there)
the loss is not differentiable where a data point lies on a group's hyperplane,
``<V_g, x_i> = 0``. Moving the groups by ``delta = (delta_g)`` changes the loss, to first
order, by a sum over the groups of

    D_g(delta) = <grad_g, delta> + (1/n) sum_{i on g's plane} s_g r_i relu(s_g <x_i, delta>),

``grad_g = (1/n) sum r_i x_i`` over the points the group is strictly active on. ``D_g`` is
linear on each cone of directions on which every on-plane point keeps one side (a *side
pattern*); on a cone ``{delta: B delta >= 0}`` where it is ``<l, delta>``, the steepest rate of
descent is the norm of the projection of ``-l`` onto the cone, which is ``-l`` less its
projection onto the polar cone ``{-B' mu, mu >= 0}``: a nonnegative least-squares residual.
The largest rate over every group's cones, relative to ``r_rms x_on / n`` (``x_on`` the RMS
norm of the group's on-plane points), is ``kink_max``: above ``kink_tol`` some move across the
kinks lowers the loss, whether it takes one point across or several at once; ~0 at a local
minimum (a direction along a face of minimizers is flat). It reads no multipliers, so it does
not depend on which side of a kink the region was read from (the multipliers of points on a
plane are not unique where those points are dependent).

A group of two or more neurons can also *split*: members move apart (``delta`` and
``-delta``), the group vector stays, and the loss changes at ``D_g(delta) + D_g(-delta) =
(1/n) sum s_g r_i |<x_i, delta>|``, negative where some on-plane point has ``s_g r_i < 0``:
``split_max`` is the largest ``-s_g r_i / n`` relative to ``r_rms |x_i| / n``. A split that
gains implies a kink that gains (``D_g(delta)`` or ``D_g(-delta)`` is negative); it is
reported apart because it names a different move.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.optimize

# A data point is on a group's hyperplane at the region minimum when |<V_g, x_i>| is below
# this share of |V_g| |x_i|. At the region QPs' tolerance an active constraint's slack is ~1e-8
# relative and most points off the hyperplanes are at 1e-5 and beyond; a few plateau runs of
# threshold_quick (n = 45 seed 7, n = 64 seed 6) have points at ~1e-6, which a first-order test
# must take as on the plane: a move of 1e-6 |V| crosses them. A group whose vector is below
# this share of the largest group's is the escape test's business, not the kink test's.
ACTIVE_REL = 1e-5
# Groups with at most this many on-plane points try every side pattern (2^k cones); beyond, the
# patterns within two points of the region's own (1 + k + k(k-1)/2 cones): d - 1 points lie on
# a hyperplane in general position, so only degenerate data (duplicates, symmetric pairs, many
# zero features) reach it.
EXACT_MAX = 10
KINK_KEYS = ("kink_max", "split_max")  # the test's numbers in the certificates and outputs


def on_plane(v_D, x_NxD) -> np.ndarray:
    """(N,) bool: the data points on the hyperplane of the group vector ``v_D``."""
    x_norm = np.linalg.norm(x_NxD, axis=1)
    return np.abs(x_NxD @ v_D) <= ACTIVE_REL * np.linalg.norm(v_D) * x_norm


def side_patterns(base_K) -> np.ndarray:
    """(P, K) bool: side patterns of K on-plane points to try (True: joins the pattern)."""
    k = len(base_K)
    if k <= EXACT_MAX:
        return np.array(list(itertools.product([False, True], repeat=k)), bool).reshape(-1, k)
    flips = [()] + [(i,) for i in range(k)] + list(itertools.combinations(range(k), 2))
    out = np.repeat(np.asarray(base_K, bool)[None], len(flips), axis=0)
    for row, idx in zip(out, flips, strict=True):
        row[list(idx)] = ~row[list(idx)]
    return out


def descent_rate(grad_D, sign: int, x_KxD, r_K, n: int, base_K) -> float:
    """Steepest first-order descent rate of ``D_g`` over unit directions (0 if none descends):
    the largest, over side patterns, of the norm of ``-l`` projected onto the pattern's cone."""
    best = 0.0
    for joins in side_patterns(base_K):
        l_D = grad_D + (r_K[joins] @ x_KxD[joins]) / n
        b_KxD = np.where(joins, sign, -sign)[:, None] * x_KxD  # the cone: b_k . delta >= 0
        _, resid = scipy.optimize.nnls(b_KxD.T, l_D)
        best = max(best, float(resid))
    return best


def kink_test(groups, v_GxD, x_NxD, r_N) -> dict:
    """``kink_max`` (the largest relative descent rate across kinks) and ``split_max`` (the
    largest relative split gain) at the region minimum ``v_GxD`` of ``groups`` ((pattern_N,
    sign, members) each), residual ``r_N`` there; -inf where no group has a point on its
    hyperplane. Groups whose vector vanishes are skipped (every constraint active there)."""
    n = len(r_N)
    r_rms = np.sqrt(np.mean(r_N**2))
    kink, split = [-np.inf], [-np.inf]
    v_norm_G = np.linalg.norm(v_GxD, axis=1)
    for g, (pattern_N, sgn, members) in enumerate(groups):
        if not v_norm_G[g] > ACTIVE_REL * np.max(v_norm_G) or not r_rms > 0:
            continue
        plane = on_plane(v_GxD[g], x_NxD)
        if not plane.any():
            continue
        strict = (sgn * (x_NxD @ v_GxD[g]) > 0) & ~plane
        grad = r_N[strict] @ x_NxD[strict] / n
        x_on, r_on = x_NxD[plane], r_N[plane]
        x_on_rms = np.sqrt(np.mean(np.sum(x_on**2, axis=1)))
        rate = descent_rate(grad, sgn, x_on, r_on, n, pattern_N[plane])
        kink.append(rate / (r_rms * x_on_rms / n))
        if len(members) >= 2:
            scale = r_rms * np.linalg.norm(x_on, axis=1) / n
            split.append(float(np.max(-sgn * r_on / n / scale)))
    return {"kink_max": float(max(kink)), "split_max": float(max(split))}
