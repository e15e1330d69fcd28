"""The n* estimator: where the fraction of interpolating runs p(n) crosses 1/2.

Pure numpy on host arrays. For each n, p(n) = (interpolating runs) / (determined runs). n* is
where a logistic regression of the 0/1 outcomes on log n, P(interp) = sigmoid(k (log n* - log
n)), crosses 1/2; its interval is a percentile bootstrap that resamples whole seeds. See
:func:`estimate_threshold` for the separable and never-crossing cases. Everything returned is
made of plain floats, ints, strings, bools, lists and None (JSON-ready).
"""

from __future__ import annotations

import numpy as np

from alignment.two_layer.nstar.crossing import Crossing, crossing

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
    n_R, interp_R, det_R, groups = _checked(n_R, interpolating_R, determined_R, seeds_R, ci)
    n_vals, n_idx = np.unique(n_R, return_inverse=True)
    g_vals, g_idx = np.unique(groups, return_inverse=True)
    # Determined and interpolating counts per (seed group, n): a resample is a weighted sum.
    det_GxN = np.zeros((g_vals.size, n_vals.size))
    itp_GxN = np.zeros((g_vals.size, n_vals.size))
    np.add.at(det_GxN, (g_idx, n_idx), det_R)
    np.add.at(itp_GxN, (g_idx, n_idx), interp_R)
    logn_N = np.log(n_vals)

    point = crossing(logn_N, itp_GxN.sum(0), det_GxN.sum(0))
    out = _point_fields(point, n_R, interp_R, det_R, g_vals.size, ci)
    out |= {"n_boot": int(n_boot), "boot_seed": int(seed)}
    if out["n_star"] is None:
        out["ci_note"] = "no interval: no point estimate"
        return out
    if n_boot < 1:
        out["ci_note"] = "no interval: n_boot = 0"
        return out

    out |= _bootstrap(logn_N, det_GxN, itp_GxN, n_boot, seed, ci)
    return _cover_bracket(out, point)


def _point_fields(point: Crossing, n_R, interp_R, det_R, n_groups: int, ci: float) -> dict:
    """The point estimate's fields of :func:`estimate_threshold`, the interval still empty."""
    method = {
        "logistic": METHOD_LOGISTIC,
        "separable": METHOD_SEPARABLE,
        "quasi_separable": METHOD_QUASI,
    }.get(point.kind, METHOD_LOGISTIC)
    found = np.isfinite(point.log_n_star)
    return {
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
        "n_seeds": int(n_groups),
        "boot_valid": 0,
        "boot_above": 0,
        "boot_below": 0,
        "boot_invalid": 0,
    }


def _cover_bracket(out: dict, point: Crossing) -> dict:
    """Separable outcomes locate n* only between two tested n: the interval covers them."""
    if point.bracket is None:
        return out
    lo, hi = (float(np.exp(v)) for v in point.bracket)
    widened = False
    if out["ci_low"] is not None and out["ci_low"] > lo:
        out["ci_low"], widened = lo, True
    if out["ci_high"] is not None and out["ci_high"] < hi:
        out["ci_high"], widened = hi, True
    if widened:
        note = "widened to the tested n between which separable outcomes place the crossing"
        out["ci_note"] = "; ".join(filter(None, [out["ci_note"], note]))
    return out


def _checked(n_R, interpolating_R, determined_R, seeds_R, ci):
    """The inputs of :func:`estimate_threshold` as arrays, or ValueError naming the problem."""
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

    return n_R, interp_R, det_R, groups


def _bootstrap(logn_N, det_GxN, itp_GxN, n_boot: int, seed: int, ci: float) -> dict:
    """The percentile interval over seed resamples, with its bookkeeping fields."""
    out = {"ci_low": None, "ci_high": None, "ci_note": None}
    g = det_GxN.shape[0]
    rng = np.random.default_rng(seed)
    w_BxG = rng.multinomial(g, np.full(g, 1.0 / g), size=n_boot)
    det_BxN, itp_BxN = w_BxG @ det_GxN, w_BxG @ itp_GxN
    # resamples that draw the same seeds give the same counts: fit each distinct one once
    counts_UxN2, which_B = np.unique(np.hstack([itp_BxN, det_BxN]), axis=0, return_inverse=True)
    num_n = det_BxN.shape[1]
    fits_U = np.empty(len(counts_UxN2))
    for u, row in enumerate(counts_UxN2):
        c = crossing(logn_N, row[:num_n], row[num_n:])
        fits_U[u] = {"above": np.inf, "below": -np.inf, "invalid": np.nan}.get(c.kind, c.log_n_star)
    boot = fits_U[np.ravel(which_B)]
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
