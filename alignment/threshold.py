"""Run verdicts (interpolating / stuck / undetermined / diverged) and the n* estimator.

Pure numpy on host arrays: this reads finished trajectories, it never trains. Everything that
ends up in ``threshold.json`` is made of plain floats, ints, strings, bools, lists and None.

Verdicts (DESIGN.md, "Interpolation verdict and the optimization threshold"), on the final
snapshot of each run, with ``L`` the train loss (1/2n) sum (h - y)^2 and ``g = ||grad L||``:

- ``diverged``: flagged by the trainer; never given another verdict.
- ``interpolating``: finite ``L_final < max(abs_tol, rel_tol * scale)``, ``scale`` a loss scale
  such as the initial loss (1/2n) sum y^2.
- ``stuck``: above that tolerance at an approximate stationary point, i.e. both
  (a) *small gradient*: ``t_final * g_final^2 / L_final < grad_tol``. Along gradient flow
  dL/dt = -g^2, so this number is -d log L / d log t, the relative loss decrease per e-fold of
  time at the end: it measures the gradient against the scale sqrt(L / t) set by the loss and the
  time already spent, and needs no knowledge of the parameter scale. (Calibrated for plain GD;
  momentum and Adam move faster than g^2, which (b) does not depend on.)
  (b) *flat over the last decade*: ``max |L(t) - L_final| / L_final < flat_tol`` over every
  snapshot with t in [t_anchor, t_final], t_anchor the latest positive snapshot time at or before
  t_final / 10. Without such a snapshot the record does not span a decade and the run cannot be
  called stuck.
- ``undetermined``: anything else (still moving, or too short a record: train longer). A final
  loss that is not finite is missing information, so such a run is undetermined, never
  interpolating (the trainer freezes a diverging lane at finite values and flags it instead).

The threshold: for each n, p(n) = (interpolating runs) / (determined runs). n* is where a
logistic regression of the 0/1 outcomes on log n, P(interp) = sigmoid(k (log n* - log n)), crosses
1/2; its interval is a percentile bootstrap that resamples whole seeds. See
:func:`estimate_threshold` for the separable and never-crossing cases.
"""

from __future__ import annotations

import dataclasses
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

VERDICTS = ("interpolating", "stuck", "undetermined", "diverged")


@dataclasses.dataclass(frozen=True)
class VerdictTolerances:
    """Tolerances of the verdict; ``dataclasses.asdict`` gives the keyword arguments of
    :func:`verdicts` and the record written to threshold.json."""

    # Interpolating: L_final < max(abs_tol, rel_tol * scale). float32 losses bottom out around
    # 1e-7 of the scale; a non-interpolating (OLS-like) solution sits at about
    # (sigma^2 / 2)(1 - d/n), >= 1e-4 of the scale for sigma >= 0.01. 1e-5 is 100x above the
    # float32 floor and 10x or more below any stuck loss of the suite.
    rel_tol: float = 1e-5
    # Only matters when the scale is ~0 (targets ~0); far below any loss of unit-scale data.
    abs_tol: float = 1e-10
    # Stuck, gradient: t g^2 / L (= -dlogL/dlogt under gradient flow) below this. A steady
    # drift at this log-slope changes L by 2.3e-4 over a decade, under flat_tol; an approach
    # L* + c/t that passes flat_tol has log-slope flat_tol / 9, about this value.
    grad_tol: float = 1e-4
    # Stuck, flatness: relative loss change over the last decade below this. 1e-3 is 1e4x above
    # float32 rounding of the loss and 10x below the 1% a loss moves in a decade at log-slope 4e-3.
    flat_tol: float = 1e-3
    # Relative slack on t_final / 10 when looking for the start of the last decade: recorded
    # times are steps * lr in float32, so a grid point meant to be t_final / 10 may land a hair
    # above it.
    decade_slack: float = 1e-3

    def to_dict(self) -> dict:
        return {k: float(v) for k, v in dataclasses.asdict(self).items()}


DEFAULT_TOLERANCES = VerdictTolerances()


# ----------------------------------------------------------------------------------------------
# Verdicts
# ----------------------------------------------------------------------------------------------


def _as_runs_by_snapshots(times, loss, grad_norm):
    """(R, K) float arrays; times may be (K,) shared by every run."""
    loss = np.atleast_2d(np.asarray(loss, dtype=np.float64))
    grad_norm = np.atleast_2d(np.asarray(grad_norm, dtype=np.float64))
    times = np.broadcast_to(np.asarray(times, dtype=np.float64), loss.shape)
    if loss.ndim != 2 or grad_norm.shape != loss.shape:
        raise ValueError(
            f"loss and grad_norm must both be (R, K), got {loss.shape} and {grad_norm.shape}"
        )
    if loss.shape[1] == 0:
        raise ValueError("need at least one snapshot")
    return times, loss, grad_norm


def verdict_diagnostics(
    times_RxK,
    loss_RxK,
    grad_norm_RxK,
    y_scale_R,
    *,
    rel_tol: float = DEFAULT_TOLERANCES.rel_tol,
    abs_tol: float = DEFAULT_TOLERANCES.abs_tol,
    grad_tol: float = DEFAULT_TOLERANCES.grad_tol,
    flat_tol: float = DEFAULT_TOLERANCES.flat_tol,
    decade_slack: float = DEFAULT_TOLERANCES.decade_slack,
) -> dict[str, np.ndarray]:
    """The numbers a verdict is made of, per run (R,) float/bool arrays.

    ``final_time``, ``final_loss``, ``final_grad_norm``: at the latest snapshot (the last column
    among duplicates of the largest time; non-finite times are treated as absent snapshots).
    ``loss_tol``: the interpolation tolerance. ``grad_slope``: t g^2 / L at the end.
    ``spans_decade``: a positive snapshot time <= t_final / 10 exists. ``flat_change``: the
    largest relative deviation from L_final over the last decade (inf when a loss there is not
    finite or the record does not span a decade).
    """
    times, loss, grad = _as_runs_by_snapshots(times_RxK, loss_RxK, grad_norm_RxK)
    R, K = loss.shape
    scale = np.broadcast_to(np.asarray(y_scale_R, dtype=np.float64), (R,))
    valid = np.isfinite(times)
    t_max = np.max(np.where(valid, times, -np.inf), axis=1)
    is_last = valid & (times == t_max[:, None])
    # Last column holding the largest time: argmax on the reversed boolean rows.
    k_final = K - 1 - np.argmax(is_last[:, ::-1], axis=1)
    rows = np.arange(R)
    has_any = valid.any(axis=1)
    t_f = np.where(has_any, t_max, np.nan)
    l_f = np.where(has_any, loss[rows, k_final], np.nan)
    g_f = np.where(has_any, grad[rows, k_final], np.nan)
    loss_tol = np.maximum(abs_tol, rel_tol * np.where(np.isfinite(scale), scale, 0.0))

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        grad_slope = t_f * g_f**2 / l_f
        grad_slope = np.where(np.isfinite(grad_slope) & (l_f > 0), grad_slope, np.inf)
        anchor_ok = valid & (times > 0) & (times <= t_f[:, None] / 10 * (1 + decade_slack))
        spans = anchor_ok.any(axis=1)
        t_anchor = np.max(np.where(anchor_ok, times, -np.inf), axis=1)
        window = valid & (times >= t_anchor[:, None])
        dev = np.abs(loss - l_f[:, None]) / l_f[:, None]
        dev = np.where(np.isfinite(dev), dev, np.inf)
        flat = np.max(np.where(window, dev, 0.0), axis=1)
    flat = np.where(spans & np.isfinite(l_f) & (l_f > 0), flat, np.inf)
    return {
        "final_time": t_f,
        "final_loss": l_f,
        "final_grad_norm": g_f,
        "loss_tol": loss_tol,
        "grad_slope": grad_slope,
        "spans_decade": spans,
        "flat_change": flat,
    }


def verdicts(
    times_RxK,
    loss_RxK,
    grad_norm_RxK,
    y_scale_R,
    *,
    rel_tol: float = DEFAULT_TOLERANCES.rel_tol,
    abs_tol: float = DEFAULT_TOLERANCES.abs_tol,
    grad_tol: float = DEFAULT_TOLERANCES.grad_tol,
    flat_tol: float = DEFAULT_TOLERANCES.flat_tol,
    decade_slack: float = DEFAULT_TOLERANCES.decade_slack,
    diverged_R=None,
) -> np.ndarray:
    """Verdict of every run, an (R,) array of str from :data:`VERDICTS` (rules: module doc).

    ``times_RxK`` may be (K,) when every run shares the grid; snapshot times may repeat and
    start at 0. ``y_scale_R``: the loss scale of each run (e.g. its initial loss).
    """
    d = verdict_diagnostics(
        times_RxK,
        loss_RxK,
        grad_norm_RxK,
        y_scale_R,
        rel_tol=rel_tol,
        abs_tol=abs_tol,
        grad_tol=grad_tol,
        flat_tol=flat_tol,
        decade_slack=decade_slack,
    )
    l_f = d["final_loss"]
    R = l_f.shape[0]
    diverged = np.zeros(R, bool) if diverged_R is None else np.broadcast_to(diverged_R, (R,))
    finite = np.isfinite(l_f)
    interp = finite & (l_f < d["loss_tol"])
    stuck = (
        finite
        & ~interp
        & d["spans_decade"]
        & (d["grad_slope"] < grad_tol)
        & (d["flat_change"] < flat_tol)
    )
    out = np.full(R, "undetermined", dtype=object)
    out[stuck] = "stuck"
    out[interp] = "interpolating"
    out[np.asarray(diverged, bool)] = "diverged"
    return out.astype(str)


def verdict(times_K, loss_K, grad_norm_K, y_scale, *, diverged: bool = False, **tol) -> str:
    """Verdict of one run (see :func:`verdicts`; ``tol`` as its keyword tolerances)."""
    return str(
        verdicts(
            np.asarray(times_K)[None],
            np.asarray(loss_K)[None],
            np.asarray(grad_norm_K)[None],
            np.asarray([y_scale]),
            diverged_R=np.asarray([diverged]),
            **tol,
        )[0]
    )


def outcomes(verdicts_R) -> tuple[np.ndarray, np.ndarray]:
    """(interpolating_R, determined_R) booleans: determined = interpolating or stuck."""
    v = np.asarray(verdicts_R).astype(str)
    return v == "interpolating", (v == "interpolating") | (v == "stuck")


# ----------------------------------------------------------------------------------------------
# The crossing of p(n) with 1/2
# ----------------------------------------------------------------------------------------------

RIDGE = 1e-6  # on the slope of the standardized log n: numerical safety only, no visible bias
_NEWTON_TOL = 1e-10
_NEWTON_MAXITER = 100

METHOD_LOGISTIC = (
    "logistic regression of the 0/1 outcome (determined runs only) on log n, "
    "P(interp) = sigmoid(k (log n* - log n)), fitted by Newton's method with a 1e-6 ridge on the "
    "standardized slope; n* is where the fit crosses 1/2"
)
METHOD_SEPARABLE = (
    "separable in log n (every run below some n interpolates, every run above is stuck): the "
    "logistic MLE does not exist (k -> inf); n* = sqrt(n_lo * n_hi), the geometric midpoint "
    "between the largest n with only interpolating runs and the smallest n with only stuck runs "
    "(the limit of the ridge-penalized fit as the ridge -> 0, i.e. the max-margin cut in log n)"
)
METHOD_QUASI = (
    "quasi-separable in log n (all runs below n0 interpolate, all above are stuck, both at n0): "
    "the logistic MLE does not exist (k -> inf) and its limit is n* = n0"
)
METHOD_BOOT = (
    "; interval: percentile bootstrap over seeds (each resample draws seeds with replacement, "
    "keeping every run of a drawn seed), each resample estimated the same way"
)


class _Crossing(NamedTuple):
    """One crossing estimate. kind: logistic | separable | quasi_separable (log_n_star finite),
    above | below (the crossing lies outside the n tested), invalid (no threshold shape)."""

    kind: str
    log_n_star: float
    slope: float  # k of sigmoid(k (log n* - log n)); inf when separable, nan when none
    reason: str | None


def _logistic_newton(x_N, k_N, m_N) -> tuple[float, float] | None:
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
        t = 1.0
        while t > 1e-8:
            new = theta + t * step
            new_obj = objective(new)
            if new_obj >= obj - 1e-12 * abs(obj):
                break
            t /= 2
        theta, obj = new, new_obj
        if np.max(np.abs(t * step)) < _NEWTON_TOL:
            a, b = theta
            return a - b * xm / xs, b / xs
    return None


def _crossing(logn_N, k_N, m_N) -> _Crossing:
    """Where P(interp) crosses 1/2, from k_N interpolating out of m_N determined runs at log n."""
    keep = m_N > 0
    x, k, m = logn_N[keep], k_N[keep], m_N[keep]
    nan = float("nan")
    if x.size == 0:
        return _Crossing("invalid", nan, nan, "no determined runs")
    p = k / m
    if np.all(p > 0.5):
        return _Crossing(
            "above", nan, nan, "p(n) > 1/2 at every n tested: n* lies above the largest n"
        )
    if np.all(p < 0.5):
        return _Crossing(
            "below", nan, nan, "p(n) < 1/2 at every n tested: n* lies below the smallest n"
        )
    if np.unique(x).size < 2:
        return _Crossing("invalid", nan, nan, "determined runs at a single n only")
    interp_x, stuck_x = x[k > 0], x[k < m]
    if interp_x.max() < stuck_x.min():
        mid = 0.5 * (interp_x.max() + stuck_x.min())
        return _Crossing("separable", float(mid), float("inf"), None)
    if interp_x.max() == stuck_x.min():
        return _Crossing("quasi_separable", float(interp_x.max()), float("inf"), None)
    if stuck_x.max() <= interp_x.min():
        return _Crossing("invalid", nan, nan, "P(interp) increases with n (separable upward)")
    fit = _logistic_newton(x, k, m)
    if fit is None:
        return _Crossing("invalid", nan, nan, "logistic fit did not converge")
    a, b = fit
    if not b < 0:
        return _Crossing("invalid", nan, nan, "fitted P(interp) does not decrease with n")
    log_n_star = -a / b
    if log_n_star > x.max():
        return _Crossing("above", nan, -b, "fitted crossing lies above the largest n tested")
    if log_n_star < x.min():
        return _Crossing("below", nan, -b, "fitted crossing lies below the smallest n tested")
    return _Crossing("logistic", float(log_n_star), float(-b), None)


def predict_p(n, n_star: float, slope: float) -> np.ndarray:
    """The fitted curve P(interp | n) = sigmoid(k (log n* - log n)) (a step when k = inf)."""
    u = np.log(n_star) - np.log(np.asarray(n, dtype=np.float64))
    if np.isinf(slope):
        return np.where(u > 0, 1.0, np.where(u < 0, 0.0, 0.5))
    return 0.5 * (1 + np.tanh(0.5 * slope * u))


def _p_table(n_R, interp_R, det_R) -> list[dict]:
    """One row per distinct n: counts of runs by outcome and p = interpolating / determined."""
    rows = []
    for n in np.unique(n_R):
        at = n_R == n
        det, itp = int(np.sum(det_R[at])), int(np.sum(interp_R[at]))
        rows.append(
            {
                "n": int(n) if float(n).is_integer() else float(n),
                "runs": int(np.sum(at)),
                "determined": det,
                "interpolating": itp,
                "stuck": det - itp,
                "undetermined": int(np.sum(at)) - det,
                "p": itp / det if det else None,
            }
        )
    return rows


def _opt_float(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def estimate_threshold(
    n_R,
    interpolating_R,
    determined_R,
    *,
    seeds_R=None,
    n_boot: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
) -> dict:
    """n* (where P(interp) crosses 1/2) with a bootstrap interval, as a JSON-ready dict.

    Inputs are per run: its n, whether it interpolates, whether it is determined (interpolating
    or stuck; undetermined and diverged runs are counted in the table, never in p). ``seeds_R``
    groups runs for the bootstrap (a seed's runs at every n are resampled together; default:
    every run its own group).

    Point estimate, by case (``method`` says which was used):
    - overlapping outcomes: logistic regression on log n (Newton, tiny ridge), n* = its crossing;
    - separable / quasi-separable in log n: the MLE does not exist; n* is the geometric midpoint
      between the largest all-interpolating n and the smallest all-stuck n (or the one mixed n);
    - p(n) never crosses 1/2 within the n tested, the fitted crossing lies outside them, or
      P(interp) does not decrease with n: ``n_star`` is None and ``reason`` says why. Nothing is
      extrapolated.
    The interval: resamples whose crossing lies above (below) the range count as +inf (-inf) in
    the percentile interval, so a bound that falls outside the range is None (``ci_note``);
    resamples with no threshold shape at all are left out and counted in ``boot_invalid``.

    Keys: n_star, ci_low, ci_high, ci_level, slope (k; None when infinite or absent), method,
    reason, ci_note, separable, table (list of {n, runs, determined, interpolating, stuck,
    undetermined, p}), n_runs, n_determined, n_seeds, n_boot, boot_seed, boot_valid, boot_above,
    boot_below, boot_invalid.
    """
    n_R = np.asarray(n_R, dtype=np.float64)
    interp_R = np.asarray(interpolating_R, dtype=bool)
    det_R = np.asarray(determined_R, dtype=bool)
    if not (n_R.ndim == 1 and interp_R.shape == n_R.shape and det_R.shape == n_R.shape):
        raise ValueError(
            f"n, interpolating, determined must be 1-D of one length, got "
            f"{n_R.shape}, {interp_R.shape}, {det_R.shape}"
        )
    if np.any(~(np.isfinite(n_R) & (n_R > 0))):
        raise ValueError("every n must be finite and > 0")
    if np.any(interp_R & ~det_R):
        raise ValueError("a run marked interpolating must also be marked determined")
    if not 0 < ci < 1:
        raise ValueError(f"ci={ci} must be in (0, 1)")
    groups = np.arange(n_R.size) if seeds_R is None else np.asarray(seeds_R)
    if groups.shape != n_R.shape:
        raise ValueError(f"seeds must have shape {n_R.shape}, got {groups.shape}")

    n_vals, n_idx = np.unique(n_R, return_inverse=True)
    g_vals, g_idx = np.unique(groups, return_inverse=True)
    # Determined and interpolating counts per (seed group, n): a resample is a weighted sum.
    det_GxN = np.zeros((g_vals.size, n_vals.size))
    itp_GxN = np.zeros((g_vals.size, n_vals.size))
    np.add.at(det_GxN, (g_idx, n_idx), det_R)
    np.add.at(itp_GxN, (g_idx, n_idx), interp_R)
    logn_N = np.log(n_vals)

    point = _crossing(logn_N, itp_GxN.sum(0), det_GxN.sum(0))
    found = np.isfinite(point.log_n_star)
    method = {
        "logistic": METHOD_LOGISTIC,
        "separable": METHOD_SEPARABLE,
        "quasi_separable": METHOD_QUASI,
    }.get(point.kind, METHOD_LOGISTIC)
    out = {
        "n_star": float(np.exp(point.log_n_star)) if found else None,
        "ci_low": None,
        "ci_high": None,
        "ci_level": float(ci),
        "slope": _opt_float(point.slope),
        "method": method + METHOD_BOOT,
        "reason": point.reason,
        "ci_note": None,
        "separable": point.kind in ("separable", "quasi_separable"),
        "table": _p_table(n_R, interp_R, det_R),
        "n_runs": int(n_R.size),
        "n_determined": int(det_R.sum()),
        "n_seeds": int(g_vals.size),
        "n_boot": int(n_boot),
        "boot_seed": int(seed),
        "boot_valid": 0,
        "boot_above": 0,
        "boot_below": 0,
        "boot_invalid": 0,
    }
    if not found:
        out["ci_note"] = "no interval: no point estimate"
        return out
    if n_boot < 1:
        out["ci_note"] = "no interval: n_boot = 0"
        return out

    rng = np.random.default_rng(seed)
    w_BxG = rng.multinomial(g_vals.size, np.full(g_vals.size, 1.0 / g_vals.size), size=n_boot)
    det_BxN, itp_BxN = w_BxG @ det_GxN, w_BxG @ itp_GxN
    boot = np.empty(n_boot)
    for b in range(n_boot):
        c = _crossing(logn_N, itp_BxN[b], det_BxN[b])
        boot[b] = {"above": np.inf, "below": -np.inf, "invalid": np.nan}.get(c.kind, c.log_n_star)
    out["boot_above"] = int(np.sum(boot == np.inf))
    out["boot_below"] = int(np.sum(boot == -np.inf))
    out["boot_invalid"] = int(np.sum(np.isnan(boot)))
    good = boot[~np.isnan(boot)]
    out["boot_valid"] = int(good.size)
    if good.size == 0:
        out["ci_note"] = "no interval: no bootstrap resample had a threshold shape"
        return out
    alpha = 1 - ci
    # inverted_cdf picks order statistics, so +-inf resamples need no arithmetic.
    lo, hi = np.quantile(good, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    notes = []
    if np.isfinite(lo):
        out["ci_low"] = float(np.exp(lo))
    else:
        notes.append("lower bound below the smallest n tested")
    if np.isfinite(hi):
        out["ci_high"] = float(np.exp(hi))
    else:
        notes.append("upper bound above the largest n tested")
    out["ci_note"] = "; ".join(notes) or None
    return out


# ----------------------------------------------------------------------------------------------
# n* against d
# ----------------------------------------------------------------------------------------------

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
    x, y = np.log(d[ok]), np.log(ns[ok])
    xc = x - x.mean()
    sxx = np.sum(xc**2)
    k = float(np.sum(xc * (y - y.mean())) / sxx)
    c = float(y.mean() - k * x.mean())
    z = NormalDist().inv_cdf(0.5 + ci / 2)
    sd_lo = np.maximum(y - np.log(lo[ok]), 0.0) / z
    sd_hi = np.maximum(np.log(hi[ok]) - y, 0.0) / z
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
    out.update(
        k=k,
        k_ci_low=float(k_lo),
        k_ci_high=float(k_hi),
        prefactor=float(np.exp(c)),
        resid_rms=float(np.sqrt(np.mean(resid**2))),
        chi2_per_dof=chi2,
    )
    return out
