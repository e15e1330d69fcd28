"""Power laws across groups: n* ~ prefactor * d^k with an interval for k (pure numpy)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

METHOD_POWER = (
    "least squares of log n* on log d (unweighted); interval: percentile of the slope over "
    "Monte Carlo draws of every log n* from a split normal whose halves match its interval "
    "(sd = half-width / z), i.e. the n* intervals propagated through the fit. It carries no "
    "lack-of-fit term: compare chi2_per_dof (residuals over those sds) with 1"
)


def fit_power_law(
    d_G,
    n_star_G,
    ci_low_G,
    ci_high_G,
    *,
    ci: float = 0.95,
    n_draws: int = 4000,
    seed: int = 0,
) -> dict:
    """n* ~ prefactor * d^k across groups, with an interval for k (JSON-ready dict).

    Groups whose n* or either bound is missing (None/NaN) are left out (``groups_used`` lists
    the d of those kept). Keys: k, k_ci_low, k_ci_high, prefactor, ci_level, resid_rms (log
    units), chi2_per_dof (None with two points), groups_used, method, reason (None on success).
    """

    def arr(v):
        return np.array([np.nan if x is None else float(x) for x in v], dtype=np.float64)

    d, ns, lo, hi = arr(d_G), arr(n_star_G), arr(ci_low_G), arr(ci_high_G)
    if not d.shape == ns.shape == lo.shape == hi.shape:
        raise ValueError("d, n_star, ci_low, ci_high must have one length")
    ok = np.isfinite(d) & (d > 0) & np.isfinite(ns) & (ns > 0)
    ok &= np.isfinite(lo) & (lo > 0) & np.isfinite(hi)
    out = {
        "k": None,
        "k_ci_low": None,
        "k_ci_high": None,
        "prefactor": None,
        "ci_level": float(ci),
        "resid_rms": None,
        "chi2_per_dof": None,
        "groups_used": [float(x) for x in d[ok]],
        "method": METHOD_POWER,
        "reason": None,
    }
    if np.unique(d[ok]).size < 2:
        out["reason"] = "need n* with a bounded interval at two or more distinct d"
        return out
    out.update(
        _fit(np.log(d[ok]), np.log(ns[ok]), np.log(lo[ok]), np.log(hi[ok]), ci, n_draws, seed)
    )
    return out


def _fit(x, y, log_lo, log_hi, ci: float, n_draws: int, seed: int) -> dict:
    """Least squares of y on x, and the slope's interval from split-normal draws of every y."""
    xc = x - x.mean()
    sxx = np.sum(xc**2)
    k = float(np.sum(xc * (y - y.mean())) / sxx)
    c = float(y.mean() - k * x.mean())
    z = NormalDist().inv_cdf(0.5 + ci / 2)
    sd_lo = np.maximum(y - log_lo, 0.0) / z
    sd_hi = np.maximum(log_hi - y, 0.0) / z
    e = np.random.default_rng(seed).standard_normal((n_draws, x.size))
    y_draw = y + np.where(e < 0, e * sd_lo, e * sd_hi)
    k_draw = (y_draw - y_draw.mean(1, keepdims=True)) @ xc / sxx
    k_lo, k_hi = np.quantile(k_draw, [0.5 - ci / 2, 0.5 + ci / 2])
    resid = y - (c + k * x)
    sd = 0.5 * (sd_lo + sd_hi)
    dof = x.size - 2
    chi2 = None
    if dof > 0 and np.all(sd > 0):
        chi2 = float(np.sum((resid / sd) ** 2) / dof)
    return dict(
        k=k,
        k_ci_low=float(k_lo),
        k_ci_high=float(k_hi),
        prefactor=float(np.exp(c)),
        resid_rms=float(np.sqrt(np.mean(resid**2))),
        chi2_per_dof=chi2,
    )
