"""Class manifolds of a classifier's hidden layer, inversion and stragglers (DESIGN.md section 4).

Device side (one snapshot, jnp): :func:`class_geometry`, on the normalized hidden
representations ``u_i = h_i / |h_i|`` of the training points with weight 1 (all-zero rows
excluded and counted): per class ``mu_c``, ``R_c = sqrt(mean |u_i - mu_c|^2)``, ``D = |mu_0 -
mu_1|``. Host side (numpy, on a run's series): the two inversion rules, the training error at
inversion and the stragglers, and the overlap of two misclassified sets against the
hypergeometric null.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

PAPER_BURN_IN = 20  # the paper's rule looks at steps t >= 20


def class_geometry(h_NxM, label_N, weight_N) -> dict:
    """R_0, R_1, D, R/D (R the mean of R_0 and R_1) and the zero-row fraction."""
    norm_N = jnp.linalg.norm(h_NxM, axis=1)
    alive_N = (norm_N > 0) & (weight_N > 0)
    u_NxM = h_NxM / jnp.where(norm_N > 0, norm_N, 1.0)[:, None]
    out, mus = {}, []
    for c in (0, 1):
        sel_N = (alive_N & (label_N == c)).astype(h_NxM.dtype)
        count = jnp.maximum(jnp.sum(sel_N), 1.0)
        mu_M = sel_N @ u_NxM / count
        out[f"R_{c}"] = jnp.sqrt(sel_N @ jnp.sum((u_NxM - mu_M) ** 2, axis=1) / count)
        mus.append(mu_M)
    out["D"] = jnp.linalg.norm(mus[0] - mus[1])
    out["R_over_D"] = 0.5 * (out["R_0"] + out["R_1"]) / out["D"]
    used = jnp.maximum(jnp.sum(weight_N > 0), 1)
    out["zero_rows"] = jnp.sum((norm_N == 0) & (weight_N > 0)) / used
    return out


def paper_inversion(r0_K, burn_in: int = PAPER_BURN_IN) -> int | None:
    """The paper's rule: the first step t >= burn_in with R_0(t) >= R_0(t - 1) (None: never)."""
    r0_K = np.asarray(r0_K, np.float64)
    rises = np.flatnonzero(r0_K[1:] >= r0_K[:-1]) + 1
    rises = rises[rises >= burn_in]
    return int(rises[0]) if rises.size else None


def smooth(series_K, window: int) -> np.ndarray:
    """A centred moving average (the window shrinks at the ends)."""
    x = np.asarray(series_K, np.float64)
    half = window // 2
    c = np.concatenate([[0.0], np.cumsum(x)])
    lo = np.maximum(np.arange(len(x)) - half, 0)
    hi = np.minimum(np.arange(len(x)) + half + 1, len(x))
    return (c[hi] - c[lo]) / (hi - lo)


def robust_inversion(
    r_K, burn_in: int = PAPER_BURN_IN, window: int = 5, rise_tol: float = 1e-3
) -> int | None:
    """The argmin of the smoothed radius after ``burn_in``; None ("no inversion") when the
    radius does not rise after it by more than ``rise_tol`` of its value."""
    s = smooth(r_K, window)
    if len(s) <= burn_in:
        return None
    k = burn_in + int(np.argmin(s[burn_in:]))
    rise = np.max(s[k:]) - s[k]
    return k if rise > rise_tol * abs(s[k]) else None


RULES = ("paper", "robust")


def inversion_index(
    r0_K, r1_K, rule: str, burn_in: int = PAPER_BURN_IN, window: int = 5, rise_tol: float = 1e-3
) -> int | None:
    """The inversion snapshot by ``rule``: the paper's on R_0, the robust one on the mean
    radius (R_0 + R_1) / 2; None when there is none."""
    if rule == "paper":
        return paper_inversion(r0_K, burn_in)
    mean_K = 0.5 * (np.asarray(r0_K, np.float64) + np.asarray(r1_K, np.float64))
    return robust_inversion(mean_K, burn_in, window, rise_tol)


def unpack(bits_KxB, n: int) -> np.ndarray:
    """Bit-packed misclassified sets (K, ceil(n/8)) as booleans (K, n)."""
    return np.unpackbits(np.asarray(bits_KxB, np.uint8), axis=-1, count=n).astype(bool)


def hypergeom_null(size_a: int, size_b: int, n: int) -> tuple[float, float]:
    """Mean and variance of |A & B| for a uniformly random B of its size (hypergeometric)."""
    mean = size_a * size_b / n
    var = size_a * size_b * (n - size_a) * (n - size_b) / (n**2 * (n - 1)) if n > 1 else 0.0
    return mean, var


def overlap(a_N, b_N) -> dict:
    """|A & B|, its z-score against the hypergeometric null, and the Jaccard index."""
    a_N, b_N = np.asarray(a_N, bool), np.asarray(b_N, bool)
    c = int(np.sum(a_N & b_N))
    mean, var = hypergeom_null(int(a_N.sum()), int(b_N.sum()), len(a_N))
    union = int(np.sum(a_N | b_N))
    return {
        "overlap": c,
        "z": (c - mean) / np.sqrt(var) if var > 0 else np.nan,
        "jaccard": c / union if union else np.nan,
    }
