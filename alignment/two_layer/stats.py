"""Per-snapshot statistics of one network, reduced on device (vmapped over runs by train.py).

Every statistic is a fixed-shape reduction, so it runs inside the trainer's jitted scan. With
hidden bias a neuron is the vector theta_j = (w_j, b_j) and inputs are augmented by 1. A neuron
is *active* when its preactivation is positive on at least one real (mask 1) training input,
*dead* otherwise; its *mass* is |a_j| ||theta_j||, the size of its contribution to h. Fractions
of active mass are nan when no neuron is active.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from alignment.two_layer import extremal, model
from alignment.two_layer.data import Dataset, augment

ALIGN_EPS_DEG = 5.0  # a neuron within this angle of its target direction counts as aligned
CLUSTER_EPS_DEG = 5.0  # angular radius of a direction cluster around its leader
CLUSTER_MIN_MASS = 0.01  # a cluster counts as a direction if it holds this share of active mass
MAX_CLUSTERS = 64  # clustering stops after this many leaders (n_directions saturates here)
ALIGNED_MASS = 0.9  # alignment time: first snapshot with this share of active mass aligned
ESCAPE_FACTOR = 10.0  # escape time: first snapshot with max_j ||theta_j|| > this x its t=0 value
LOSS_DROP = 0.1  # loss-drop time: first snapshot with loss < (1 - this) x its t=0 value


class Reference(NamedTuple):
    """Least-squares reference for one run's data (computed once, at t = 0)."""

    beta_hat: jax.Array  # OLS coefficients on the augmented inputs, (d,) or (d+1,) with bias
    train_loss: jax.Array  # (1/2n) ||X beta_hat - y||^2
    test_loss: jax.Array  # on the noisy test targets
    test_excess: jax.Array  # on the noise-free test targets


def half_mse(pred_N, y_N, mask_N, n):
    """(1/2n) sum_i mask_i (pred_i - y_i)^2."""
    r = (pred_N - y_N) * mask_N
    return 0.5 * jnp.sum(r * r) / n


def ols_reference(train: Dataset, test: Dataset, bias: bool) -> Reference:
    """Minimum-norm least squares on the masked training set (with intercept iff bias).

    A bias-free ReLU network represents every linear map (a relu(w.x) - a relu(-w.x) = a w.x),
    one with hidden bias every affine map, so this is the best the network can do with a
    'linear' solution.
    """
    x_tr = augment(train.x_NxD, bias) * train.mask_N[:, None]
    beta = jnp.linalg.pinv(x_tr) @ (train.y_N * train.mask_N)
    x_te = augment(test.x_NxD, bias)
    return Reference(
        beta_hat=beta,
        train_loss=half_mse(x_tr @ beta, train.y_N, train.mask_N, train.n),
        test_loss=half_mse(x_te @ beta, test.y_N, test.mask_N, test.n),
        test_excess=half_mse(x_te @ beta, test.y_clean_N, test.mask_N, test.n),
    )


def balancedness(params: model.Params) -> jax.Array:
    """a_j^2 - ||(w_j, b_j)||^2 per neuron: conserved along gradient flow."""
    return params["a"] ** 2 - jnp.sum(model.neuron_vectors(params) ** 2, axis=1)


def unit_rows(v_MxD: jax.Array) -> jax.Array:
    """Rows scaled to unit norm (zero rows stay zero)."""
    norm = jnp.linalg.norm(v_MxD, axis=1, keepdims=True)
    return v_MxD / jnp.where(norm > 0, norm, 1.0)


def activity(theta_MxD: jax.Array, x_NxD: jax.Array, mask_N: jax.Array) -> jax.Array:
    """Activation pattern on the real samples: <theta_j, x_i> > 0 and mask_i = 1, shape (n, m).

    ``x_NxD`` is augmented by 1 when theta includes the bias.
    """
    return (x_NxD @ theta_MxD.T > 0) & (mask_N[:, None] > 0)


def dead_fraction(on_NxM: jax.Array) -> jax.Array:
    """Fraction of neurons inactive on every real training input."""
    return jnp.mean(~jnp.any(on_NxM, axis=0))


def stable_rank(theta_MxD: jax.Array) -> jax.Array:
    """||W||_F^2 / ||W||_2^2 (between 1 and rank W; nan for W = 0)."""
    fro2 = jnp.sum(theta_MxD * theta_MxD)
    top2 = jnp.linalg.eigvalsh(theta_MxD.T @ theta_MxD)[-1]
    return jnp.where(top2 > 0, fro2 / jnp.where(top2 > 0, top2, 1.0), jnp.nan)


def count_patterns(on_NxM: jax.Array, mask_N: jax.Array) -> jax.Array:
    """Number of distinct rows of the 0/1 activation matrix over the real samples.

    Each row is hashed to sum_j on_ij r_j mod 2^64 with fixed random 64-bit r_j; two distinct
    rows collide with probability 2^-64, so a fixed-shape sort-and-count finds the distinct
    rows. Padded rows take the hash of a real row, so they never add a pattern.
    """
    r_M = jax.random.bits(jax.random.key(0x5EED), (on_NxM.shape[1],), jnp.uint64)
    h_N = jnp.sum(jnp.where(on_NxM, r_M, jnp.uint64(0)), axis=1, dtype=jnp.uint64)
    real_N = mask_N > 0
    h_N = jnp.sort(jnp.where(real_N, h_N, h_N[jnp.argmax(real_N)]))
    return (1 + jnp.sum(h_N[1:] != h_N[:-1])).astype(jnp.int32)


def count_clusters(
    u_MxD: jax.Array,
    mass_M: jax.Array,
    active_M: jax.Array,
    eps_deg: float = CLUSTER_EPS_DEG,
    min_mass: float = CLUSTER_MIN_MASS,
    max_clusters: int = MAX_CLUSTERS,
) -> jax.Array:
    """Number of direction clusters holding at least ``min_mass`` of the active mass.

    Greedy leader clustering in order of mass: the heaviest unassigned active neuron leads a
    new cluster and takes every unassigned active neuron within ``eps_deg`` of its direction.
    Each of the (at most ``max_clusters``) rounds is one vectorized pass over the neurons, so
    the cost is O(max_clusters m d) with a short sequential loop. Dead neurons are ignored, and
    light clusters (stray or still-rotating neurons) do not count.
    """
    cos_tol = jnp.cos(jnp.deg2rad(jnp.asarray(eps_deg, u_MxD.dtype)))
    mass_M = jnp.where(active_M, mass_M, 0.0)
    need = min_mass * jnp.sum(mass_M)

    def body(_, carry):
        free_M, count = carry
        lead = jnp.argmax(jnp.where(free_M, mass_M, -1.0))
        take_M = free_M & (u_MxD @ u_MxD[lead] > cos_tol)
        cmass = jnp.sum(jnp.where(take_M, mass_M, 0.0))
        heavy = jnp.any(free_M) & (cmass > 0) & (cmass >= need)
        return free_M & ~take_M, count + heavy.astype(jnp.int32)

    rounds = min(max_clusters, u_MxD.shape[0])
    _, count = jax.lax.fori_loop(0, rounds, body, (active_M, jnp.zeros((), jnp.int32)))
    return count


def mass_share(hit_M: jax.Array, mass_M: jax.Array, active_M: jax.Array) -> jax.Array:
    """Share of the active mass held by active neurons with hit_M (nan if no active mass)."""
    total = jnp.sum(jnp.where(active_M, mass_M, 0.0))
    part = jnp.sum(jnp.where(active_M & hit_M, mass_M, 0.0))
    return jnp.where(total > 0, part / jnp.where(total > 0, total, 1.0), jnp.nan)


def mass_mean(v_M: jax.Array, mass_M: jax.Array, active_M: jax.Array) -> jax.Array:
    """Mass-weighted mean of v over active neurons where v is defined (nan if none)."""
    use_M = active_M & ~jnp.isnan(v_M)
    total = jnp.sum(jnp.where(use_M, mass_M, 0.0))
    part = jnp.sum(jnp.where(use_M, v_M * mass_M, 0.0))
    return jnp.where(total > 0, part / jnp.where(total > 0, total, 1.0), jnp.nan)


def snapshot_stats(
    params: model.Params,
    train: Dataset,
    test: Dataset,
    balance0_M: jax.Array,
    activation: str,
    store_neurons: bool,
    *,
    beta_hat: jax.Array,
    ext: extremal.Extremal,
    norm0_max: jax.Array,
    align_eps_deg: float = ALIGN_EPS_DEG,
    cluster_eps_deg: float = CLUSTER_EPS_DEG,
    cluster_min_mass: float = CLUSTER_MIN_MASS,
) -> dict[str, jax.Array]:
    """Statistics of one network at one snapshot time (scalars, plus per-neuron arrays if asked).

    ``beta_hat`` is the OLS direction and ``ext`` the extremal vectors of G_n at t = 0, both in
    the neuron space (R^{d+1} with bias); ``norm0_max`` is max_j ||theta_j|| at t = 0.
    """

    def train_loss(p):
        return model.loss(p, train.x_NxD, train.y_N, train.mask_N, train.n, activation)

    loss, grads = jax.value_and_grad(train_loss)(params)
    pred_te = model.forward(params, test.x_NxD, activation)

    theta_MxD = model.neuron_vectors(params)
    a_M = params["a"]
    on_NxM = activity(theta_MxD, augment(train.x_NxD, "b" in params), train.mask_N)
    active_M = jnp.any(on_NxM, axis=0)
    norm_M = jnp.linalg.norm(theta_MxD, axis=1)
    mass_M = jnp.abs(a_M) * norm_M
    u_MxD = unit_rows(theta_MxD)
    eps = jnp.deg2rad(jnp.asarray(align_eps_deg, u_MxD.dtype))
    cos_ols_M, ext_angle_M = _directions(u_MxD, a_M, beta_hat, ext)
    max_norm = jnp.max(norm_M)
    out = {
        "loss": loss,
        "grad_norm": jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree_util.tree_leaves(grads))),
        "test_loss": half_mse(pred_te, test.y_N, test.mask_N, test.n),
        "test_excess": half_mse(pred_te, test.y_clean_N, test.mask_N, test.n),
        "balance_drift": jnp.max(jnp.abs(balancedness(params) - balance0_M)),
        "ols_aligned_fraction": mass_share(jnp.abs(cos_ols_M) >= jnp.cos(eps), mass_M, active_M),
        "aligned_fraction": mass_share(ext_angle_M <= eps, mass_M, active_M),
        "extremal_angle": mass_mean(ext_angle_M, mass_M, active_M),
        "n_directions": count_clusters(u_MxD, mass_M, active_M, cluster_eps_deg, cluster_min_mass),
        "dead_fraction": dead_fraction(on_NxM).astype(a_M.dtype),
        "stable_rank": stable_rank(theta_MxD),
        "n_patterns": count_patterns(on_NxM, train.mask_N),
        "max_norm": max_norm,
        "norm_growth": max_norm / norm0_max,
    }
    if store_neurons:
        out["neuron_w"] = theta_MxD
        out["neuron_a"] = a_M
        out["neuron_cos_ols"] = jnp.where(active_M, cos_ols_M, jnp.nan)
        out["neuron_extremal_angle"] = jnp.where(active_M, ext_angle_M, jnp.nan)
    return out


def _directions(u_MxD, a_M, beta_hat, ext: extremal.Extremal):
    """Each unit neuron's cosine with the OLS direction and angle to its nearest extremal vector
    (of its output sign)."""
    bhat_D = beta_hat / jnp.maximum(jnp.linalg.norm(beta_hat), jnp.finfo(u_MxD.dtype).tiny)
    return u_MxD @ bhat_D, extremal.nearest_angle(u_MxD, a_M >= 0, ext)


SCALAR_FLOAT_KEYS = (
    "loss",
    "grad_norm",
    "test_loss",
    "test_excess",
    "balance_drift",
    "ols_aligned_fraction",
    "aligned_fraction",
    "extremal_angle",
    "dead_fraction",
    "stable_rank",
    "max_norm",
    "norm_growth",
)
SCALAR_INT_KEYS = ("n_directions", "n_patterns")  # int32
# What the trainer adds to every family's snapshot: time (float64), step (int64), the
# parameter displacement since the previous snapshot (float64), diverged (bool), the sharpness
# lambda_max of the Hessian (power iteration) and the step size times it.
TRAINER_KEYS = ("time", "step", "displacement", "diverged", "sharpness", "step_sharpness")
PER_NEURON_KEYS = ("neuron_w", "neuron_a", "neuron_cos_ols", "neuron_extremal_angle")


def snapshot_bytes(m: int, d_in: int, itemsize: int, store_neurons: bool) -> int:
    """Host bytes of one run's record at one snapshot, as train.train returns it.

    Scalars (the float keys and the trainer's sharpness in the run's dtype, two int32 counts,
    the trainer's time, step, displacement and step_sharpness in 64 bits and 'diverged' as a
    bool), plus
    m (d_in + 3) floats when per-neuron arrays are stored: (w_j, b_j), a_j, the cosine with
    beta_hat and the angle to the nearest extremal vector. d_in = d, or d + 1 with bias.
    """
    scalars = (len(SCALAR_FLOAT_KEYS) + 1) * itemsize + 4 * len(SCALAR_INT_KEYS) + 4 * 8 + 1
    return scalars + (m * (d_in + 3) * itemsize if store_neurons else 0)


def first_time(time_K: np.ndarray, hit_K: np.ndarray) -> np.ndarray:
    """Time of the first snapshot with hit (last axis is snapshots); inf where never."""
    hit_K = np.asarray(hit_K, bool)
    first = np.argmax(hit_K, axis=-1)
    t = np.take_along_axis(np.asarray(time_K, np.float64), first[..., None], axis=-1)[..., 0]
    return np.where(np.any(hit_K, axis=-1), t, np.inf)


def event_times(
    snaps: dict,
    aligned_mass: float = ALIGNED_MASS,
    escape_factor: float = ESCAPE_FACTOR,
    loss_drop: float = LOSS_DROP,
) -> dict[str, np.ndarray]:
    """Per-run event times from a snapshot series (arrays with leading axes (R, K), or (K,)).

    alignment_time: first snapshot where at least ``aligned_mass`` of the active mass is within
    the alignment angle of an extremal vector of its sign class. escape_time: first snapshot
    where max_j ||theta_j|| exceeds ``escape_factor`` times its t = 0 value. loss_drop_time:
    first snapshot where the loss is below (1 - ``loss_drop``) times the first snapshot's (the
    series must start at t = 0, as train.time_grid does): the end of the early phase, which
    grows like log(1/lam) / max|G_n|. inf where never. Host-side (numpy), so a series trained
    in several calls is concatenated first.
    """
    time = np.asarray(snaps["time"], np.float64)
    frac = np.nan_to_num(np.asarray(snaps["aligned_fraction"], np.float64), nan=0.0)
    growth = np.nan_to_num(np.asarray(snaps["norm_growth"], np.float64), nan=0.0)
    loss = np.asarray(snaps["loss"], np.float64)
    return {
        "alignment_time": first_time(time, frac >= aligned_mass),
        "escape_time": first_time(time, growth > escape_factor),
        "loss_drop_time": first_time(time, loss < (1.0 - loss_drop) * loss[..., :1]),
    }
