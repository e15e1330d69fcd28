"""Extremal vectors of G_n(w) = (1/n) sum_i y_i relu(<w, x_i>): its critical points on the sphere.

At small initialization the residual is ~ -y, so neurons with a_j > 0 climb G_n and those with
a_j < 0 descend it (dw_j/dt ~ a_j D_n(w_j), D_n = grad G_n). The targets of early alignment are
the local maxima (a > 0) and minima (a < 0) of G_n on the unit sphere with G_n != 0. They are
found by projected (Riemannian) gradient ascent and descent from ``num_starts`` random starts
with fixed step schedules, so the finder has static shapes and vmaps over runs.

G_n is piecewise linear and positively homogeneous: linear on each cell of the arrangement of
the kinks <u, x_i> = 0. An extremum is either smooth (D_n(u) = G_n(u) u inside a cell) or lies
on kinks. Steps: :func:`climb` (normalized subgradient steps, decaying: converges to kink
extrema too, but stalls along kink valleys), :func:`snap` (jumps to the exact critical point of
the cell's closure on the faces of the nearest kinks), then rounds of :func:`slide` (steps
projected onto the current kinks: follows valley floors), a short local climb and a snap.
Endpoints with G_n = 0 are dropped and the rest deduplicated by angle.

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
REFINE_ROUNDS = 3  # rounds of (slide along kink valleys, local climb, snap) after the climb
SLIDE_STEPS = 100  # steps per slide (the local climbs take twice as many)
SLIDE_MAX = 0.05  # rad: first step of a slide (travel >= 2.5 rad along a valley)
SNAP_KINKS = 3  # snap tries faces of up to this many kinks nearest to the stalled point
SNAP_RADIUS = 0.1  # rad: how far a snap may move a stalled point
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


def step_schedule(num_steps: int, start: float, end: float, dtype) -> jax.Array:
    """Angular step per iteration: ``start`` for half the steps, then geometric to ``end``."""
    flat = num_steps // 2
    decay = jnp.geomspace(start, end, num_steps - flat, dtype=dtype)
    return jnp.concatenate([jnp.full((flat,), start, dtype), decay])


def kink_tol(dtype) -> float:
    """|<u, x_i>| / ||x_i|| below this puts u on the kink of sample i (above the finder's
    final accuracy: STEP_MIN, or rounding in float32)."""
    return max(10 * STEP_MIN, 1e3 * float(jnp.finfo(dtype).eps))


def _tangent(g_SxD, u_SxD):
    return g_SxD - jnp.sum(g_SxD * u_SxD, axis=1, keepdims=True) * u_SxD


def _step_direction(g_SxD, u_SxD):
    """Unit tangential part of g, or 0 where it is rounding noise (a critical point)."""
    t_SxD = _tangent(g_SxD, u_SxD)
    noise = 100 * jnp.finfo(g_SxD.dtype).eps * jnp.linalg.norm(g_SxD, axis=1)
    small = jnp.linalg.norm(t_SxD, axis=1) <= noise
    return jnp.where(small[:, None], 0.0, _unit(t_SxD))


def climb(u_SxD, sign_S, x_NxD, y_N, mask_N, n, num_steps=NUM_STEPS, start=STEP_MAX) -> jax.Array:
    """Moves each u_s along sign_s * (tangential D_n) with normalized decaying steps.

    Normalized steps make the schedule independent of the scale of G_n and converge to
    kink extrema, where the tangential gradient does not vanish. Along the floor of a kink
    valley they zigzag and stall; :func:`slide` finishes those. A start with zero tangential
    gradient (e.g. inactive on every sample) stays where it is.
    """

    def body(u, step):
        g = _step_direction(d_values(u, x_NxD, y_N, mask_N, n), u)
        return _unit(u + step * sign_S[:, None] * g), None

    steps = step_schedule(num_steps, start, STEP_MIN, u_SxD.dtype)
    u, _ = jax.lax.scan(body, u_SxD, steps)
    return u


def _unit_rows(x_NxD):
    return x_NxD / jnp.maximum(jnp.linalg.norm(x_NxD, axis=1, keepdims=True), 1e-30)


def face_projector(on_face_SxN, xn_NxD) -> jax.Array:
    """Projector onto {v : <v, x_i> = 0 for the marked i}, per row (the identity if none)."""
    dtype = xn_NxD.dtype
    gram_SxDxD = jnp.einsum("sn,nd,ne->sde", on_face_SxN.astype(dtype), xn_NxD, xn_NxD)
    evals_SxD, evecs_SxDxD = jnp.linalg.eigh(gram_SxDxD)
    null_SxD = (evals_SxD < 1e-6).astype(dtype)  # unit rows: a kink has eigenvalue >~ angle^2
    return jnp.einsum("sdk,sk,sek->sde", evecs_SxDxD, null_SxD, evecs_SxDxD)


def kink_faces(u_SxD, x_NxD, mask_N):
    """The kinks each u sits on, and the projector onto their common orthogonal complement.

    Returns on_kink (S, N): real samples with |<u, x_i>| / ||x_i|| < kink_tol, and P (S, D, D).
    """
    xn_NxD = _unit_rows(x_NxD)
    on_kink_SxN = (jnp.abs(u_SxD @ xn_NxD.T) < kink_tol(x_NxD.dtype)) & (mask_N > 0)
    return on_kink_SxN, face_projector(on_kink_SxN, xn_NxD)


def slide(u_SxD, sign_S, x_NxD, y_N, mask_N, n, steps=SLIDE_STEPS) -> jax.Array:
    """Continues along kink valleys: steps projected onto the face of the kinks u sits on.

    On the face {<v, x_i> = 0, i on a kink} both one-sided gradients agree once projected, so
    the step follows the valley floor without zigzag (where plain steps stall). u is first put
    exactly on the face (a move below kink_tol), so steps and u stay in it; on a face that is a
    single point of the sphere nothing moves.
    """
    _, proj = kink_faces(u_SxD, x_NxD, mask_N)
    u_SxD = _unit(jnp.einsum("sde,se->sd", proj, u_SxD))

    def body(u, step):
        g = jnp.einsum("sde,se->sd", proj, d_values(u, x_NxD, y_N, mask_N, n))
        return _unit(u + step * sign_S[:, None] * _step_direction(g, u)), None

    u, _ = jax.lax.scan(body, u_SxD, step_schedule(steps, SLIDE_MAX, STEP_MIN, u_SxD.dtype))
    return u


def refine(u_SxD, sign_S, x_NxD, y_N, mask_N, n, rounds=REFINE_ROUNDS) -> jax.Array:
    """Rounds of :func:`slide`, a short local :func:`climb`, and :func:`snap`.

    A slide can end on a further kink where the way on is along that kink instead; the local
    climb leaves kinks that are not valleys and settles on the ones that are, and the snap
    jumps to the exact critical point of the cell the climb stalled in.
    """

    def one_round(u, _):
        u = slide(u, sign_S, x_NxD, y_N, mask_N, n)
        u = climb(u, sign_S, x_NxD, y_N, mask_N, n, 2 * SLIDE_STEPS, SLIDE_MAX / 10)
        return snap(u, sign_S, x_NxD, y_N, mask_N, n), None

    u, _ = jax.lax.scan(one_round, u_SxD, None, length=rounds)
    return u


def snap(u_SxD, sign_S, x_NxD, y_N, mask_N, n) -> jax.Array:
    """Moves u to the best exact critical point of G_n on the closure of its activation cell.

    On the cell of u (signs of <u, x_i> fixed) G_n is linear, <g, v>. Its critical points on a
    face where the k kinks nearest to u are held at 0 (k = 0 .. SNAP_KINKS) are +- P_k g_k /
    ||P_k g_k|| (P_k the projector orthogonal to those x_i, g_k without their terms): k = 0 is
    a smooth extremum (D_n(c) = G_n(c) c), k >= 1 one on kinks, where subgradient steps stall
    short of it. A candidate counts if it keeps u's signs off its kinks (so it lies on the
    cell's closure) and is within SNAP_RADIUS of u; the best one (highest G_n for a maximum,
    lowest for a minimum) replaces u if it is at least as good.
    """
    real_N = mask_N > 0
    xn_NxD = _unit_rows(x_NxD)
    dist_SxN = jnp.where(real_N, jnp.abs(u_SxD @ xn_NxD.T), jnp.inf)
    num_kinks = min(SNAP_KINKS, x_NxD.shape[1] - 1, x_NxD.shape[0])
    _, near_SxK = jax.lax.top_k(-dist_SxN, max(num_kinks, 1))
    act_SxN = (u_SxD @ x_NxD.T > 0) & real_N
    near_SxKxN = jax.nn.one_hot(near_SxK[:, :num_kinks], x_NxD.shape[0], dtype=bool)

    def try_face(best, k):
        best_u, best_g = best
        face_SxN = jnp.any(near_SxKxN & (jnp.arange(num_kinks) < k)[None, :, None], axis=1)
        g_SxD = ((act_SxN & ~face_SxN) * (y_N * mask_N)).astype(x_NxD.dtype) @ x_NxD / n
        pg_SxD = jnp.einsum("sde,se->sd", face_projector(face_SxN, xn_NxD), g_SxD)
        c_SxD = _unit(sign_S[:, None] * pg_SxD)
        same_SxN = (c_SxD @ x_NxD.T > 0) == act_SxN
        ok_S = jnp.all(same_SxN | face_SxN | ~real_N, axis=1)
        ok_S &= (jnp.linalg.norm(pg_SxD, axis=1) > 0) & (angle(u_SxD, c_SxD) < SNAP_RADIUS)
        g_S = sign_S * g_values(c_SxD, x_NxD, y_N, mask_N, n)
        better_S = ok_S & (g_S >= best_g)
        best_u = jnp.where(better_S[:, None], c_SxD, best_u)
        return (best_u, jnp.where(better_S, g_S, best_g)), None

    best = (u_SxD, sign_S * g_values(u_SxD, x_NxD, y_N, mask_N, n))
    (best_u, _), _ = jax.lax.scan(try_face, best, jnp.arange(num_kinks + 1))
    return best_u


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
    u_ExD = snap(u_ExD, sign_E, x_NxD, y_N, mask_N, n)
    u_ExD = refine(u_ExD, sign_E, x_NxD, y_N, mask_N, n)
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
