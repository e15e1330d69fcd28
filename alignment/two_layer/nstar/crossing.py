"""Where a fraction p(n) of binomial outcomes crosses 1/2 along log n: the logistic fit and the
separable cases, for one set of counts (the point estimate and each bootstrap resample).

Pure numpy on host arrays; used by :mod:`alignment.threshold`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

RIDGE = 1e-6  # on the slope of the standardized log n: numerical safety only, no visible bias
_NEWTON_TOL = 1e-10
_NEWTON_MAXITER = 100


class Crossing(NamedTuple):
    """One crossing estimate. kind: logistic | separable | quasi_separable (log_n_star finite),
    above | below (the crossing lies outside the n tested), invalid (no threshold shape)."""

    kind: str
    log_n_star: float
    slope: float  # k of sigmoid(k (log n* - log n)); inf when separable, nan when none
    reason: str | None
    bracket: tuple[float, float] | None = None  # separable: log n of the last all-interpolating
    # and first all-stuck n tested, between which the crossing lies


def logistic_newton(x_N, k_N, m_N) -> tuple[float, float] | None:
    """(intercept, slope) of logit P = a + b x for binomial counts, or None if not converged.

    Newton's method on the ridge-penalized log-likelihood, x standardized inside, with step
    halving so that every step increases the objective.
    """
    xm = np.average(x_N, weights=m_N)
    xs = np.sqrt(np.average((x_N - xm) ** 2, weights=m_N))
    z = (x_N - xm) / xs
    Z = np.stack([np.ones_like(z), z], axis=1)
    p0 = np.clip(k_N.sum() / m_N.sum(), 1e-3, 1 - 1e-3)
    theta = np.array([np.log(p0 / (1 - p0)), 0.0])
    pen = np.array([0.0, RIDGE])

    def objective(th):
        eta = Z @ th
        # k eta - m log(1 + e^eta), stably.
        return np.sum(k_N * eta - m_N * np.logaddexp(0.0, eta)) - 0.5 * np.sum(pen * th**2)

    obj = objective(theta)
    for _ in range(_NEWTON_MAXITER):
        mu = 1.0 / (1.0 + np.exp(-(Z @ theta)))
        grad = Z.T @ (k_N - m_N * mu) - pen * theta
        hess = (Z * (m_N * mu * (1 - mu))[:, None]).T @ Z + np.diag(pen)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return None
        if np.max(np.abs(step)) < _NEWTON_TOL:  # converged: the Newton step vanishes
            a, b = theta
            return a - b * xm / xs, b / xs
        t = 1.0
        while objective(theta + t * step) < obj - 1e-12 * abs(obj):
            t /= 2
            if t < 1e-8:  # no step along the Newton direction improves: not converged
                return None
        theta = theta + t * step
        obj = objective(theta)
    return None


def crossing(logn_N, k_N, m_N) -> Crossing:
    """Where P(interp) crosses 1/2, from k_N interpolating out of m_N determined runs at log n."""
    keep = m_N > 0
    x, k, m = logn_N[keep], k_N[keep], m_N[keep]
    nan = float("nan")
    if x.size == 0:
        return Crossing("invalid", nan, nan, "no determined runs")
    p = k / m
    if np.all(p > 0.5):  # (only n with determined runs count: say which range that is)
        top = f"{np.exp(x.max()):.4g}"
        return Crossing(
            "above",
            nan,
            nan,
            f"p(n) > 1/2 at every n with determined runs (up "
            f"to n = {top}): n* lies above n = {top}",
        )
    if np.all(p < 0.5):
        low = f"{np.exp(x.min()):.4g}"
        return Crossing(
            "below",
            nan,
            nan,
            f"p(n) < 1/2 at every n with determined runs (from n = {low}): n* lies below n = {low}",
        )
    if np.unique(x).size < 2:
        return Crossing("invalid", nan, nan, "determined runs at a single n only")
    interp_x, stuck_x = x[k > 0], x[k < m]
    if interp_x.max() < stuck_x.min():
        lo, hi = float(interp_x.max()), float(stuck_x.min())
        return Crossing("separable", 0.5 * (lo + hi), float("inf"), None, (lo, hi))
    if interp_x.max() == stuck_x.min():
        n0 = interp_x.max()
        below, above = x[x < n0], x[x > n0]
        lo = float(below.max()) if below.size else float(n0)
        hi = float(above.min()) if above.size else float(n0)
        return Crossing("quasi_separable", float(n0), float("inf"), None, (lo, hi))
    if stuck_x.max() <= interp_x.min():
        return Crossing("invalid", nan, nan, "P(interp) increases with n (separable upward)")
    fit = logistic_newton(x, k, m)
    if fit is None:
        return Crossing("invalid", nan, nan, "logistic fit did not converge")
    a, b = fit
    if not b < 0:
        return Crossing("invalid", nan, nan, "fitted P(interp) does not decrease with n")
    log_n_star = -a / b
    if log_n_star > x.max():
        return Crossing("above", nan, -b, "fitted crossing lies above the largest n tested")
    if log_n_star < x.min():
        return Crossing("below", nan, -b, "fitted crossing lies below the smallest n tested")
    return Crossing("logistic", float(log_n_star), float(-b), None)
