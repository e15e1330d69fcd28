"""DESIGN.md section 3's claims (i)-(vi), measured on a finished mean-field job (host numpy).
Every claim is a dict of the numbers it rests on (per width m: medians over seeds, with the
range), the rule that says whether it holds at these widths, and ``holds`` (None where the job
has no runs for it). Rules, all in ``rule`` of each claim:

- (i) test minimum: the log-log slope against m of the time the test error first comes within
  ``near_min_level`` (5%) of its minimum is below 1/2 (it does not grow like m), with the
  minimum against Bayes tau^2/2 (the argmin itself is reported too: on a flat minimum it
  wanders);
- (ii) overfitting at t ~ m: t_c, when gamma has covered ``collapse_level`` of its rise from
  gamma(0) to its last value, scales like m (slope of log t_c on log m in [0.7, 1.3]); the
  spreads of t_c/m and of t_c across m, the late v, v sqrt(m) gamma and the test-error rise;
- (iii) gamma_GF*: the smallest frozen gamma whose converged train error is below
  ``interp_level`` tau^2/2 (log-interpolated on the grid); final gamma / gamma_GF*, and late
  train(t) over the frozen curve e_tr(gamma(t));
- (iv) pure noise: the plateau (train >= ``plateau_level`` tau^2/2) ends at t_p ~ m (slope in
  [0.7, 1.3]);
- (v) lazy, pure noise: final m C_o within 0.25 of -1;
- (vi) the log-log slope of max|a_i| on t (t >= 1) is at most 1.1 for every trained-a run.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alignment.mean_field import frozen

SLOPE_BAND = (0.7, 1.3)  # "scales like m": 30% either way at widths spanning a factor 8


def crossing_time(t_K, y_K, level: float, rising: bool = True) -> float:
    """First time y reaches ``level`` (linear interpolation between snapshots), NaN if never."""
    t_K, y_K = np.asarray(t_K, np.float64), np.asarray(y_K, np.float64)
    past = (y_K >= level) if rising else (y_K <= level)
    hits = np.flatnonzero(past & np.isfinite(y_K))
    if not hits.size:
        return float("nan")
    k = hits[0]
    if k == 0:
        return float(t_K[0])
    y0, y1 = y_K[k - 1], y_K[k]
    frac = 0.0 if y1 == y0 else (level - y0) / (y1 - y0)
    return float(t_K[k - 1] + frac * (t_K[k] - t_K[k - 1]))


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y on log x over the finite, positive pairs (NaN if < 2)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if len(np.unique(x[ok])) < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def per_run(
    traj: xr.Dataset, collapse_level: float, plateau_level: float, near_min: float = 0.05
) -> dict:
    """Derived per-run numbers (summary.csv): the test minimum and its time, the end values,
    v sqrt(m) gamma at the end, and t_c / t_p of claims (ii) and (iv)."""
    t = traj["time"].values
    test, gamma, loss = (traj[k].values for k in ("test_loss", "gamma", "loss"))
    safe = np.where(np.isfinite(test), test, np.inf)
    k_min = np.argmin(safe, axis=1)
    rows = np.arange(len(k_min))
    m, tau = traj["m"].values.astype(float), traj["tau"].values
    rise = gamma[:, -1] - gamma[:, 0]
    t_c = [
        crossing_time(t[i], gamma[i], gamma[i, 0] + collapse_level * rise[i], rise[i] >= 0)
        for i in rows
    ]
    t_p = [
        crossing_time(t[i], loss[i], plateau_level * tau[i] ** 2 / 2, rising=False) for i in rows
    ]
    end = {
        k: traj[k].values[:, -1]
        for k in ("loss", "test_loss", "gamma", "overlap", "m_cross", "max_abs_a", "self_overlap")
    }
    return {
        "test_min": test[rows, k_min],
        "t_test_min": t[rows, k_min],
        "t_test_near_min": np.array(
            [
                crossing_time(t[i], test[i], (1 + near_min) * lo, rising=False)
                for i, lo in zip(rows, test[rows, k_min], strict=True)
            ]
        ),
        "final_train": end["loss"],
        "final_test": end["test_loss"],
        "final_gamma": end["gamma"],
        "final_overlap": end["overlap"],
        "final_m_cross": end["m_cross"],
        "final_max_abs_a": end["max_abs_a"],
        "final_self_overlap": end["self_overlap"],
        "v_sqrt_m_gamma": end["overlap"] * np.sqrt(m) * end["gamma"],
        "max_overlap": np.nanmax(traj["overlap"].values, axis=1),
        "t_half_gamma": np.asarray(t_c),
        "t_plateau_end": np.asarray(t_p),
    }


def _by_m(m_R, values_R) -> dict:
    """Per width: median, min and max over its runs (finite values)."""
    out = {}
    for m in np.unique(m_R):
        v = values_R[(m_R == m) & np.isfinite(values_R)]
        out[int(m)] = [float(np.median(v)), float(v.min()), float(v.max())] if v.size else None
    return out


def _medians(by_m: dict) -> tuple[np.ndarray, np.ndarray]:
    ms = np.array([m for m, v in by_m.items() if v is not None], float)
    return ms, np.array([by_m[int(m)][0] for m in ms])


def _in_band(slope: float) -> bool | None:
    return None if not np.isfinite(slope) else bool(SLOPE_BAND[0] <= slope <= SLOPE_BAND[1])


def _spread(values: np.ndarray) -> float:
    return float((np.ptp(values)) / np.median(values)) if values.size else np.nan


def _groups(traj: xr.Dataset, kind: str, target: str | None = None):
    """(target, tau, row mask) of every (target, tau) holding runs of ``kind``."""
    kinds, targets, taus = (
        traj[k].values.astype(str if k != "tau" else float) for k in ("kind", "target", "tau")
    )
    for tg in dict.fromkeys(targets):
        for tau in dict.fromkeys(taus):
            rows = (kinds == kind) & (targets == tg) & (taus == tau)
            if rows.any() and target in (None, tg):
                yield str(tg), float(tau), rows


def test_minimum(traj, derived) -> dict:
    """(i) the test minimum's time and value against m, with Bayes tau^2/2."""
    out, verdicts = [], []
    for tg, tau, rows in _groups(traj, "mean_field"):
        m = traj["m"].values[rows]
        near, at_min = (_by_m(m, derived[k][rows]) for k in ("t_test_near_min", "t_test_min"))
        slope = loglog_slope(*_medians(near))
        verdicts.append(None if not np.isfinite(slope) else slope < 0.5)
        out.append(
            {
                "target": tg,
                "tau": tau,
                "bayes": tau**2 / 2,
                "t_test_near_min": near,
                "t_test_min": at_min,
                "test_min": _by_m(m, derived["test_min"][rows]),
                "slope_t_test_near_min_vs_m": slope,
                "slope_t_test_min_vs_m": loglog_slope(*_medians(at_min)),
            }
        )
    return _claim(
        out,
        verdicts,
        "log-log slope against m of the time the test error first "
        "comes within near_min_level of its minimum < 0.5",
    )


def overfitting(traj, derived) -> dict:
    """(ii) gamma's rise at t ~ m (collapse on t/m), feature unlearning, the test rise."""
    out, verdicts = [], []
    for tg, tau, rows in _groups(traj, "mean_field"):
        m = traj["m"].values[rows].astype(float)
        t_c = derived["t_half_gamma"][rows]
        by_m, over_m = _by_m(m, t_c), _by_m(m, t_c / m)
        slope = loglog_slope(*_medians(by_m))
        verdicts.append(_in_band(slope))
        out.append(
            {
                "target": tg,
                "tau": tau,
                "t_c": by_m,
                "t_c_over_m": over_m,
                "slope_t_c_vs_m": slope,
                "spread_t_c_over_m": _spread(_medians(over_m)[1]),
                "spread_t_c": _spread(_medians(by_m)[1]),
                "final_gamma": _by_m(m, derived["final_gamma"][rows]),
                "max_overlap": _by_m(m, derived["max_overlap"][rows]),
                "final_overlap": _by_m(m, derived["final_overlap"][rows]),
                "inverse_sqrt_m": {int(k): float(k**-0.5) for k in np.unique(m)},
                "v_sqrt_m_gamma": _by_m(m, derived["v_sqrt_m_gamma"][rows]),
                "final_train": _by_m(m, derived["final_train"][rows]),
                "test_rise": _by_m(m, derived["final_test"][rows] - derived["test_min"][rows]),
            }
        )
    return _claim(out, verdicts, f"log-log slope of t_c against m in {list(SLOPE_BAND)}")


def frozen_control(traj, derived, interp_level: float) -> dict:
    """(iii) final gamma against gamma_GF* of the frozen-a scan; late (gamma, train) against
    the frozen curve."""
    out, verdicts = [], []
    kind, m_R = traj["kind"].values.astype(str), traj["m"].values
    target_R, tau_R = traj["target"].values.astype(str), traj["tau"].values
    for tg, tau, rows in _groups(traj, "frozen"):
        for m in np.unique(m_R[rows]):
            trained = (kind == "mean_field") & (m_R == m) & (target_R == tg) & (tau_R == tau)
            cell = frozen.cell(traj, derived, rows & (m_R == m), trained, interp_level * tau**2 / 2)
            ratio = cell["final_gamma_over_gamma_star"]
            ok = ratio is not None and cell["gamma_star_how"] == "interpolated"
            verdicts.append(bool(abs(np.log(ratio)) <= np.log(1.25)) if ok else None)
            out.append({"target": tg, "tau": tau, "m": int(m), **cell})
    return _claim(out, verdicts, "median final gamma within 25% of gamma_GF*")


def pure_noise_plateau(traj, derived) -> dict:
    """(iv) pure noise, mean-field init: the train plateau at tau^2/2 lasts until t ~ m."""
    out, verdicts = [], []
    for tg, tau, rows in _groups(traj, "mean_field", "pure_noise"):
        m = traj["m"].values[rows].astype(float)
        t_p = derived["t_plateau_end"][rows]
        by_m = _by_m(m, t_p)
        slope = loglog_slope(*_medians(by_m))
        verdicts.append(_in_band(slope))
        out.append(
            {
                "target": tg,
                "tau": tau,
                "plateau": tau**2 / 2,
                "t_p": by_m,
                "t_p_over_m": _by_m(m, t_p / m),
                "slope_t_p_vs_m": slope,
            }
        )
    return _claim(out, verdicts, f"log-log slope of t_p against m in {list(SLOPE_BAND)}")


def lazy_cross_overlap(traj, derived) -> dict:
    """(v) lazy init, pure noise: m C_o -> -1 (on the t m clock)."""
    out, verdicts = [], []
    for tg, tau, rows in _groups(traj, "lazy", "pure_noise"):
        for g0 in np.unique(traj["scale"].values[rows]):
            sel = rows & (traj["scale"].values == g0)
            m = traj["m"].values[sel]
            final = _by_m(m, derived["final_m_cross"][sel])
            t_half = np.array(
                [
                    crossing_time(tm, c, -0.5, rising=False)
                    for tm, c in zip(
                        traj["t_times_m"].values[sel], traj["m_cross"].values[sel], strict=True
                    )
                ]
            )
            verdicts.append(all(abs(v[0] + 1) <= 0.25 for v in final.values() if v))
            out.append(
                {
                    "target": tg,
                    "tau": tau,
                    "gamma0": float(g0),
                    "final_m_cross": final,
                    "t_times_m_at_minus_half": _by_m(m, t_half),
                }
            )
    return _claim(out, verdicts, "median final m C_o within 0.25 of -1 at every m")


def max_a_growth(traj) -> dict:
    """(vi) max_i |a_i| grows at most linearly in t: its log-log slope over t >= 1."""
    rows = np.flatnonzero(traj["train_a"].values == 1)
    t, a = traj["time"].values, traj["max_abs_a"].values
    slopes = np.array([loglog_slope(t[i][t[i] >= 1], a[i][t[i] >= 1]) for i in rows])
    m = traj["m"].values[rows]
    growth = [float(np.nanmax((a[i][t[i] >= 1] - a[i, 0]) / t[i][t[i] >= 1])) for i in rows]
    known = slopes[np.isfinite(slopes)]
    group = {"slope": _by_m(m, slopes), "max_growth_per_time": _by_m(m, np.array(growth))}
    return {
        "rule": "log-log slope of max|a_i| on t (t >= 1) <= 1.1 for every trained-a run",
        "holds": bool(np.all(known <= 1.1)) if known.size else None,
        "groups": [group],
    }


def claims(traj: xr.Dataset, cfg) -> dict:
    """Claims (i)-(vi) of DESIGN.md section 3 with their numbers."""
    derived = per_run(traj, cfg.collapse_level, cfg.plateau_level, cfg.near_min_level)
    return {
        "i_test_minimum": test_minimum(traj, derived),
        "ii_overfitting_at_t_over_m": overfitting(traj, derived),
        "iii_frozen_a_threshold": frozen_control(traj, derived, cfg.interp_level),
        "iv_pure_noise_plateau": pure_noise_plateau(traj, derived),
        "v_lazy_cross_overlap": lazy_cross_overlap(traj, derived),
        "vi_max_a_linear": max_a_growth(traj),
    }


def _claim(groups: list, verdicts: list, rule: str) -> dict:
    known = [v for v in verdicts if v is not None]  # None: the rule could not be applied
    return {"rule": rule, "holds": all(known) if known else None, "groups": groups}
