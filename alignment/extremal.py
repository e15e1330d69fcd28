"""Extremal vectors of G_n(w) = (1/n) sum_i y_i relu(<w, x_i>): its critical points on the sphere.

At small initialization the residual is ~ -y, so neurons with a_j > 0 climb G_n and those with
a_j < 0 descend it (dw_j/dt ~ a_j D_n(w_j), D_n = grad G_n). The targets of early alignment are
the local maxima (a > 0) and minima (a < 0) of G_n on the unit sphere with G_n != 0. They are
found by projected (Riemannian) gradient ascent and descent from ``num_starts`` random starts
with a fixed step schedule, so the finder has static shapes and vmaps over runs. G_n is
piecewise linear and positively homogeneous, so an extremum is either smooth (D_n(u) = G_n(u) u
inside one activation region, where the finder snaps to it exactly) or sits on a kink
<u, x_i> = 0 (where the decaying step converges to it).

With hidden bias, neurons are vectors (w_j, b_j) in R^{d+1} and inputs are augmented by 1
(:func:`alignment.data.augment`). Padded samples (mask 0) never count.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

NUM_STARTS = 64  # random starts; each is run both uphill and downhill
NUM_STEPS = 400  # projected gradient steps per start
STEP_MAX = 0.1  # rad: step of the first half of the schedule (travel >= 20 rad)
STEP_MIN = 1e-9  # rad: the step decays geometrically to this over the second half
DEDUP_ANGLE = 1e-2  # rad: endpoints of the same kind closer than this are one vector
G_RTOL = 1e-6  # |G_n(u)| below G_RTOL * (1/n) sum_i |y_i| ||x_i|| (its bound) counts as 0


class Extremal(NamedTuple):
    """A fixed-size padded set of extremal vectors (rows with valid=False are padding)."""

    u_ExD: jax.Array  # unit vectors (zeros in padded rows)
    g_E: jax.Array  # G_n(u)
    is_max_E: jax.Array  # bool: local maximum (target of a > 0 neurons), else local minimum
    valid_E: jax.Array  # bool: a real, deduplicated extremal vector


def g_values(u_SxD, x_NxD, y_N, mask_N, n) -> jax.Array:
    """G_n(u_s) = (1/n) sum_i mask_i y_i relu(<u_s, x_i>), shape (S,)."""
    return jax.nn.relu(u_SxD @ x_NxD.T) @ (y_N * mask_N) / n


def d_values(u_SxD, x_NxD, y_N, mask_N, n) -> jax.Array:
    """D_n(u_s) = (1/n) sum_i mask_i y_i 1{<u_s, x_i> > 0} x_i, shape (S, D)."""
    on_SxN = (u_SxD @ x_NxD.T > 0).astype(x_NxD.dtype)
    return (on_SxN * (y_N * mask_N)) @ x_NxD / n


def angle(u_XxD, v_XxD) -> jax.Array:
    """Angle between unit vectors along the last axis, accurate near 0 and pi."""
    return 2.0 * jnp.arctan2(
        jnp.linalg.norm(u_XxD - v_XxD, axis=-1), jnp.linalg.norm(u_XxD + v_XxD, axis=-1)
    )


def _unit(v_XxD):
    norm = jnp.linalg.norm(v_XxD, axis=-1, keepdims=True)
    return v_XxD / jnp.where(norm > 0, norm, 1.0)


def step_schedule(num_steps: int, dtype) -> jax.Array:
    """Angular step per iteration: STEP_MAX for half the steps, then geometric to STEP_MIN."""
    flat = num_steps // 2
    decay = jnp.geomspace(STEP_MAX, STEP_MIN, num_steps - flat, dtype=dtype)
    return jnp.concatenate([jnp.full((flat,), STEP_MAX, dtype), decay])


def climb(u_SxD, sign_S, x_NxD, y_N, mask_N, n, num_steps: int = NUM_STEPS) -> jax.Array:
    """Moves each u_s along sign_s * (tangential D_n) with normalized decaying steps.

    Normalized steps make the schedule independent of the scale of G_n and converge to
    kink extrema, where the tangential gradient does not vanish. A start with zero tangential
    gradient (e.g. inactive on every sample) stays where it is.
    """

    def body(u, step):
        g = d_values(u, x_NxD, y_N, mask_N, n)
        g_tan = g - jnp.sum(g * u, axis=1, keepdims=True) * u
        return _unit(u + step * sign_S[:, None] * _unit(g_tan)), None

    u, _ = jax.lax.scan(body, u_SxD, step_schedule(num_steps, u_SxD.dtype))
    return u


def snap_smooth(u_SxD, x_NxD, y_N, mask_N, n) -> jax.Array:
    """Replaces u by the exact critical point sign(G) D_n(u)/||D_n(u)|| of its activation region.

    Accepted only where that point has the same activation pattern on the real samples (so D_n
    and hence the critical-point equation D_n(c) = G_n(c) c hold exactly there); kink extrema
    fail the check and keep the converged u.
    """
    g_SxD = d_values(u_SxD, x_NxD, y_N, mask_N, n)
    sign_S = jnp.sign(jnp.sum(g_SxD * u_SxD, axis=1))
    c_SxD = _unit(sign_S[:, None] * g_SxD)
    real_N = mask_N > 0
    same_S = jnp.all(((u_SxD @ x_NxD.T > 0) == (c_SxD @ x_NxD.T > 0)) | ~real_N, axis=1)
    ok_S = same_S & (sign_S != 0) & (angle(u_SxD, c_SxD) < DEDUP_ANGLE)
    return jnp.where(ok_S[:, None], c_SxD, u_SxD)


def dedup(u_ExD, is_max_E, valid_E, max_angle: float = DEDUP_ANGLE) -> jax.Array:
    """Greedy: keeps row e unless an earlier kept row of the same kind lies within max_angle."""
    cos_tol = jnp.cos(jnp.asarray(max_angle, u_ExD.dtype))
    cos_ExE = u_ExD @ u_ExD.T
    same_ExE = is_max_E[:, None] == is_max_E[None, :]

    def body(e, keep_E):
        dup = jnp.any(keep_E & same_ExE[e] & (cos_ExE[e] > cos_tol))
        return keep_E.at[e].set(valid_E[e] & ~dup)

    return jax.lax.fori_loop(0, u_ExD.shape[0], body, jnp.zeros_like(valid_E))


def find_extremal(
    key: jax.Array,
    x_NxD: jax.Array,
    y_N: jax.Array,
    mask_N: jax.Array,
    n,
    num_starts: int = NUM_STARTS,
    num_steps: int = NUM_STEPS,
) -> Extremal:
    """Extremal vectors of G_n for one data set (x already augmented when the net has bias).

    Returns 2 * num_starts rows: the valid ones first (maxima by decreasing G_n, then minima by
    increasing G_n), padding after. Vectors with G_n = 0 (e.g. inactive on every sample) are
    not extremal and are dropped.
    """
    dtype = x_NxD.dtype
    d = x_NxD.shape[1]
    starts_SxD = _unit(jax.random.normal(key, (num_starts, d), dtype))
    u0_ExD = jnp.concatenate([starts_SxD, starts_SxD])
    is_max_E = jnp.arange(2 * num_starts) < num_starts
    sign_E = jnp.where(is_max_E, 1.0, -1.0).astype(dtype)
    u_ExD = climb(u0_ExD, sign_E, x_NxD, y_N, mask_N, n, num_steps)
    u_ExD = snap_smooth(u_ExD, x_NxD, y_N, mask_N, n)
    g_E = g_values(u_ExD, x_NxD, y_N, mask_N, n)
    scale = jnp.sum(jnp.abs(y_N * mask_N) * jnp.linalg.norm(x_NxD, axis=1)) / n
    nonzero_E = jnp.abs(g_E) > G_RTOL * scale
    # best first, so that deduplication keeps the best endpoint of each cluster
    order_E = jnp.lexsort((jnp.where(is_max_E, -g_E, g_E), ~is_max_E, ~nonzero_E))
    u_ExD, g_E, is_max_E, nonzero_E = (v[order_E] for v in (u_ExD, g_E, is_max_E, nonzero_E))
    keep_E = dedup(u_ExD, is_max_E, nonzero_E)
    order_E = jnp.argsort(~keep_E, stable=True)
    keep_E = keep_E[order_E]
    return Extremal(
        u_ExD=jnp.where(keep_E[:, None], u_ExD[order_E], 0.0),
        g_E=jnp.where(keep_E, g_E[order_E], 0.0),
        is_max_E=is_max_E[order_E] & keep_E,
        valid_E=keep_E,
    )


def nearest_angle(u_MxD, want_max_M, ext: Extremal) -> jax.Array:
    """Angle of each unit u_m to the nearest valid extremal vector of its kind (nan if none)."""
    ok_MxE = ext.valid_E[None, :] & (ext.is_max_E[None, :] == want_max_M[:, None])
    cos_MxE = jnp.where(ok_MxE, u_MxD @ ext.u_ExD.T, -jnp.inf)
    best_M = jnp.argmax(cos_MxE, axis=1)
    ang_M = angle(u_MxD, ext.u_ExD[best_M])
    return jnp.where(jnp.any(ok_MxE, axis=1), ang_M, jnp.nan)
