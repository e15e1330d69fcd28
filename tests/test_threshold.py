"""Verdicts on synthetic loss curves and the n* estimator on synthetic outcomes with a known n*."""

import dataclasses
import json

import numpy as np
import pytest

from alignment.two_layer import powerlaw
from alignment.two_layer import threshold as th
from alignment.two_layer import verdicts as vd

# A trainer-like grid: duplicated leading zeros (steps rounded to 0), then log-spaced to 1e4.
TIMES = np.concatenate([[0.0, 0.0], np.geomspace(1e-2, 1e4, 150)])
Y_SCALE = 0.5  # initial loss (1/2n) sum y^2 of unit-scale targets


def _moving_curve(times=TIMES):
    """Still decreasing as a power law L = L0 (1 + t)^-1/2, with the gradient-flow gradient
    g = sqrt(-dL/dt)."""
    return Y_SCALE * (1 + times) ** -0.5, np.sqrt(0.5 * Y_SCALE * (1 + times) ** -1.5)


def _stuck_curve(times=TIMES):
    """Drops from 0.5 to a plateau at 0.1 by t ~ 10, then sits there with a float-floor gradient."""
    loss = 0.1 + 0.4 * np.exp(-times)
    return loss, np.full_like(times, 1e-9)


# ----------------------------------------------------------------------------------------------
# verdicts
# ----------------------------------------------------------------------------------------------


def test_interpolating_curve():
    rate = np.log(Y_SCALE / 1e-9) / TIMES[-1]  # reaches 1e-9 at the final time
    loss = Y_SCALE * np.exp(-rate * TIMES)
    assert loss[-1] == pytest.approx(1e-9)
    assert vd.verdict(TIMES, loss, np.sqrt(rate * loss), Y_SCALE) == "interpolating"


def test_stuck_plateau_with_float32_noise():
    loss, grad = _stuck_curve()
    assert vd.verdict(TIMES, loss, grad, Y_SCALE) == "stuck"
    # float32 rounding of the loss (~1e-7 relative) must not break flatness (flat_tol = 1e-3).
    noisy = (loss * (1 + 3e-7 * np.random.default_rng(0).standard_normal(loss.size))).astype(
        np.float32
    )
    assert vd.verdict(TIMES, noisy, grad, Y_SCALE) == "stuck"


def test_power_law_still_moving_is_undetermined():
    loss, grad = _moving_curve()
    d = vd.verdict_diagnostics(TIMES, loss, grad, Y_SCALE)
    # Under gradient flow t g^2 / L is the log-log slope, here 0.5, far above grad_tol.
    assert d["grad_slope"][0] == pytest.approx(0.5, rel=0.01)
    assert vd.verdict(TIMES, loss, grad, Y_SCALE) == "undetermined"


def test_gd_at_the_edge_of_stability_is_labelled():
    """A moving GD run whose last eta * lambda_max reached verdict.gd_edge (1.9) stays
    undetermined but says why ('gd_edge'); below the edge it is 'moving'; a run that reached the
    tolerance is interpolating whatever its sharpness."""
    moving, g_moving = _moving_curve()
    rate = np.log(Y_SCALE / 1e-9) / TIMES[-1]
    interp = Y_SCALE * np.exp(-rate * TIMES)
    loss = np.stack([moving, moving, interp])
    grad = np.stack([g_moving, g_moving, np.sqrt(rate * interp)])
    out, d = vd.verdicts(
        TIMES,
        loss,
        grad,
        np.full(3, Y_SCALE),
        gd_sharpness_R=np.array([1.95, 1.5, 2.0]),
        details=True,
    )
    assert list(out) == ["undetermined", "undetermined", "interpolating"]
    assert list(d["decided_by"]) == ["gd_edge", "moving", "tolerance"]
    _, d = vd.verdicts(TIMES, loss, grad, np.full(3, Y_SCALE), details=True)
    assert list(d["decided_by"]) == ["moving", "moving", "tolerance"]


def test_each_stuck_condition_is_needed():
    loss, grad = _stuck_curve()
    # Flat loss, but a gradient giving t g^2 / L = 1e-2 (e.g. GD bouncing): not stationary.
    big_grad = np.full_like(TIMES, np.sqrt(1e-2 * 0.1 / TIMES[-1]))
    assert vd.verdict(TIMES, loss, big_grad, Y_SCALE) == "undetermined"
    # Tiny final gradient, but the loss fell 1% during the last decade: not flat.
    falling = loss * np.where(TIMES > 1e3, 1 - 1e-2 * np.log10(np.maximum(TIMES, 1e3) / 1e3), 1)
    assert vd.verdict(TIMES, falling, grad, Y_SCALE) == "undetermined"
    # The same plateau with loosened tolerances is stuck again: the thresholds are what decided.
    assert vd.verdict(TIMES, loss, big_grad, Y_SCALE, grad_tol=0.1) == "stuck"
    assert vd.verdict(TIMES, falling, grad, Y_SCALE, flat_tol=0.1) == "stuck"


def test_grid_must_span_a_decade():
    loss, grad = _stuck_curve()
    late = TIMES > 1e3 + 1  # the last snapshots, spanning less than a decade
    assert vd.verdict(TIMES[late], loss[late], grad[late], Y_SCALE) == "undetermined"
    # A leading t = 0 does not count as the start of the decade (even with the same loss there).
    t0 = np.concatenate([[0.0, 0.0], TIMES[late]])
    l0, g0 = np.concatenate([[0.1, 0.1], loss[late]]), np.concatenate([[0, 0], grad[late]])
    assert vd.verdict(t0, l0, g0, Y_SCALE) == "undetermined"
    # One decade, with time rounding (steps * lr in float32) putting t_final/10 a hair too late.
    t_dec = np.geomspace(1e3, 1e4, 20)
    t_dec[0] *= 1 + 1e-6
    l_dec, g_dec = np.full(t_dec.size, 0.1), np.full(t_dec.size, 1e-9)
    assert vd.verdict(t_dec, l_dec, g_dec, Y_SCALE) == "stuck"
    assert vd.verdict(t_dec, l_dec, g_dec, Y_SCALE, decade_slack=0.0) == "undetermined"


def test_nan_loss_is_never_interpolating():
    loss, grad = _stuck_curve()
    nan_end = loss.copy()
    nan_end[-1] = np.nan
    assert vd.verdict(TIMES, nan_end, grad, Y_SCALE) == "undetermined"
    assert vd.verdict(TIMES, np.full_like(TIMES, np.nan), grad, Y_SCALE) == "undetermined"
    # A NaN inside the last decade: the loss cannot be shown to be flat.
    nan_mid = loss.copy()
    nan_mid[-5] = np.nan
    assert vd.verdict(TIMES, nan_mid, grad, Y_SCALE) == "undetermined"
    # NaN gradient: cannot be shown stationary.
    assert vd.verdict(TIMES, loss, np.full_like(TIMES, np.nan), Y_SCALE) == "undetermined"


def test_diverged_flag_wins():
    tiny = np.full_like(TIMES, 1e-12)
    assert vd.verdict(TIMES, tiny, tiny, Y_SCALE, diverged=True) == "diverged"
    loss, grad = _stuck_curve()
    assert vd.verdict(TIMES, loss, grad, Y_SCALE, diverged=True) == "diverged"


def test_interpolation_tolerance_is_relative_to_the_scale():
    loss = np.full_like(TIMES, 1e-7)
    grad = np.full_like(TIMES, 1e-12)
    assert vd.verdict(TIMES, loss, grad, 1.0) == "interpolating"  # 1e-7 < 1e-5 * 1
    assert vd.verdict(TIMES, loss, grad, 1e-4) == "stuck"  # 1e-7 > 1e-5 * 1e-4: a plateau
    assert vd.verdict(TIMES, loss, grad, 0.0) == "stuck"  # only abs_tol = 1e-10 is left
    assert vd.verdict(TIMES, loss, grad, 0.0, abs_tol=1e-6) == "interpolating"


def test_final_snapshot_is_the_last_of_duplicated_final_times():
    loss, grad = _stuck_curve()
    # A frozen lane repeats its final time; the last column is the one that counts.
    t = np.append(TIMES, TIMES[-1])
    assert vd.verdict(t, np.append(loss, 1e-12), np.append(grad, 0.0), Y_SCALE) == ("interpolating")


def test_batched_verdicts_match_single_runs_and_shared_grid():
    rate = np.log(Y_SCALE / 1e-9) / TIMES[-1]
    interp = Y_SCALE * np.exp(-rate * TIMES)
    stuck, g_stuck = _stuck_curve()
    moving, g_moving = _moving_curve()
    loss_RxK = np.stack([interp, stuck, moving, stuck])
    grad_RxK = np.stack([np.sqrt(rate * interp), g_stuck, g_moving, g_stuck])
    v = vd.verdicts(
        TIMES, loss_RxK, grad_RxK, np.full(4, Y_SCALE), diverged_R=[False, False, False, True]
    )
    assert list(v) == ["interpolating", "stuck", "undetermined", "diverged"]
    times_RxK = np.broadcast_to(TIMES, loss_RxK.shape)
    singles = [vd.verdict(TIMES, loss_RxK[r], grad_RxK[r], Y_SCALE) for r in range(3)]
    assert list(vd.verdicts(times_RxK, loss_RxK, grad_RxK, Y_SCALE))[:3] == singles
    interp_R, det_R = vd.outcomes(v)
    assert list(interp_R) == [True, False, False, False]
    assert list(det_R) == [True, True, False, False]


def test_tolerances_serialize_and_match_keywords():
    tol = vd.VerdictTolerances()
    json.dumps(tol.to_dict(), allow_nan=False)
    loss, grad = _stuck_curve()
    assert vd.verdict(TIMES, loss, grad, Y_SCALE, **dataclasses.asdict(tol)) == "stuck"


# ----------------------------------------------------------------------------------------------
# estimate_threshold
# ----------------------------------------------------------------------------------------------

N_VALS = np.round(np.geomspace(20, 5000, 12))


def _simulate(rng, n_star, k, n_seeds=20):
    """Bernoulli outcomes from P = sigmoid(k (log n* - log n)): every seed at every n."""
    n_R = np.tile(N_VALS, n_seeds)
    seeds_R = np.repeat(np.arange(n_seeds), N_VALS.size)
    interp_R = rng.random(n_R.size) < th.predict_p(n_R, n_star, k)
    return n_R, interp_R, seeds_R


def test_recovers_known_crossing():
    n_R, interp_R, seeds_R = _simulate(np.random.default_rng(0), n_star=300.0, k=4.0)
    out = th.estimate_threshold(n_R, interp_R, np.ones_like(interp_R), seeds_R=seeds_R)
    json.dumps(out, allow_nan=False)
    assert out["reason"] is None and not out["separable"]
    assert out["ci_low"] <= 300.0 <= out["ci_high"]
    # The sd of log n-hat is ~0.08 here (200 simulated replicates; ~1/(k sqrt(sum m p(1-p)))),
    # so 20% is about 2.5 sd.
    assert out["n_star"] == pytest.approx(300.0, rel=0.2)
    assert out["slope"] == pytest.approx(4.0, rel=0.5)  # k is poorly determined; sign and size
    assert out["boot_valid"] == out["n_boot"] == 1000
    row = out["table"][0]
    assert row["n"] == 20 and row["runs"] == row["determined"] == 20 and row["undetermined"] == 0


def test_bootstrap_interval_coverage():
    # Nominal 95%; ~0.92 measured over 200 replicates (percentile bootstrap, 20 seeds). With 40
    # replicates the coverage has sd ~0.04, so >= 0.8 fails only for a broken interval. The width
    # check rules out an interval that covers by being vacuous: the expected log-width is ~0.3.
    hits, widths = [], []
    for i in range(40):
        n_R, interp_R, seeds_R = _simulate(np.random.default_rng(100 + i), 300.0, 4.0)
        out = th.estimate_threshold(
            n_R, interp_R, np.ones_like(interp_R), seeds_R=seeds_R, n_boot=200, seed=i
        )
        lo, hi = out["ci_low"] or 0.0, out["ci_high"] or np.inf
        hits.append(lo <= 300.0 <= hi)
        widths.append(np.log(hi / lo))
    assert np.mean(hits) >= 0.8
    assert np.median(widths) < 0.6


def test_undetermined_runs_are_counted_but_not_in_p():
    n_R, interp_R, seeds_R = _simulate(np.random.default_rng(1), 300.0, 4.0)
    det_R = np.ones_like(interp_R)
    det_R[::5] = False  # every fifth run undetermined
    interp_R = interp_R & det_R
    out = th.estimate_threshold(n_R, interp_R, det_R, seeds_R=seeds_R, n_boot=50)
    for row in out["table"]:
        at = n_R == row["n"]
        assert row["undetermined"] == np.sum(~det_R[at])
        assert row["p"] == pytest.approx(np.sum(interp_R[at]) / np.sum(det_R[at]))
    assert out["n_determined"] == det_R.sum()
    with pytest.raises(ValueError, match="interpolating"):
        th.estimate_threshold(n_R, ~det_R, det_R)


def _grid(p_by_n, n_seeds=10):
    """Outcomes with a prescribed number of interpolating seeds at each n."""
    n_R, interp_R, seeds_R = [], [], []
    for n, k in p_by_n.items():
        n_R += [n] * n_seeds
        interp_R += [True] * k + [False] * (n_seeds - k)
        seeds_R += list(range(n_seeds))
    return np.array(n_R), np.array(interp_R), np.array(seeds_R)


def test_separable_data_give_geometric_midpoint():
    n_R, interp_R, seeds_R = _grid({10: 10, 20: 10, 40: 10, 80: 0, 160: 0})
    out = th.estimate_threshold(n_R, interp_R, np.ones_like(interp_R), seeds_R=seeds_R)
    assert out["separable"] and "geometric midpoint" in out["method"]
    assert out["n_star"] == pytest.approx(np.sqrt(40 * 80))
    assert out["slope"] is None  # infinite
    # Every resample is separable at the same cut (its bootstrap interval would collapse on
    # the point), but the data only place the crossing between the tested n = 40 and 80.
    assert (out["ci_low"], out["ci_high"]) == (pytest.approx(40.0), pytest.approx(80.0))
    assert "widened" in out["ci_note"]
    json.dumps(out, allow_nan=False)


def test_quasi_separable_data_give_the_mixed_n():
    n_R, interp_R, seeds_R = _grid({10: 10, 20: 10, 40: 4, 80: 0, 160: 0})
    out = th.estimate_threshold(n_R, interp_R, np.ones_like(interp_R), seeds_R=seeds_R)
    assert out["separable"] and "quasi-separable" in out["method"]
    assert out["n_star"] == pytest.approx(40.0)
    # all of n = 20 interpolate and all of n = 80 are stuck: the crossing lies in [20, 80]
    assert out["ci_low"] <= 20.0 * (1 + 1e-12) and out["ci_high"] >= 80.0 * (1 - 1e-12)


@pytest.mark.parametrize(
    ("p_by_n", "where"),
    [({10: 10, 20: 9, 40: 7, 80: 6}, "above"), ({10: 4, 20: 2, 40: 0, 80: 0}, "below")],
)
def test_never_crossing_gives_no_n_star(p_by_n, where):
    n_R, interp_R, seeds_R = _grid(p_by_n)
    out = th.estimate_threshold(n_R, interp_R, np.ones_like(interp_R), seeds_R=seeds_R)
    assert out["n_star"] is None and out["ci_low"] is None and out["ci_high"] is None
    assert where in out["reason"]
    json.dumps(out, allow_nan=False)


def test_increasing_probability_gives_no_n_star():
    n_R, interp_R, seeds_R = _grid({10: 1, 20: 3, 40: 5, 80: 7, 160: 9})
    out = th.estimate_threshold(n_R, interp_R, np.ones_like(interp_R), seeds_R=seeds_R)
    assert out["n_star"] is None and "does not decrease" in out["reason"]


def test_interval_bound_beyond_the_range_is_none():
    # Crossing at the largest n (2 of 5 seeds interpolate there): resamples often have p > 1/2
    # at every n, so the upper bound is not within the range tested.
    n_R, interp_R, seeds_R = _grid({10: 5, 20: 5, 40: 5, 80: 2}, n_seeds=5)
    out = th.estimate_threshold(n_R, interp_R, np.ones_like(interp_R), seeds_R=seeds_R)
    assert out["n_star"] == pytest.approx(80.0)
    assert out["ci_high"] is None and "above" in out["ci_note"]
    assert out["boot_above"] > 0.025 * out["n_boot"]


# ----------------------------------------------------------------------------------------------
# fit_power_law
# ----------------------------------------------------------------------------------------------


def test_power_law_recovers_exponent_and_propagates_intervals():
    d = np.array([2.0, 3, 5, 8, 12, 20])
    n_star = 20.0 * d**1.5
    half = 0.1  # symmetric +-0.1 in log n*: sd = 0.1 / 1.96
    out = powerlaw.fit_power_law(d, n_star, n_star * np.exp(-half), n_star * np.exp(half))
    json.dumps(out, allow_nan=False)
    assert out["k"] == pytest.approx(1.5) and out["prefactor"] == pytest.approx(20.0)
    # Exact propagation for symmetric normal errors: sd(k) = sd / sqrt(sum (log d - mean)^2).
    xc = np.log(d) - np.log(d).mean()
    half_k = 1.96 * (half / 1.96) / np.sqrt(np.sum(xc**2))
    # 4000 Monte Carlo draws: the 2.5% / 97.5% quantiles are within ~5% of their true values.
    assert out["k_ci_low"] == pytest.approx(1.5 - half_k, abs=0.1 * half_k)
    assert out["k_ci_high"] == pytest.approx(1.5 + half_k, abs=0.1 * half_k)
    assert out["chi2_per_dof"] == pytest.approx(0.0, abs=1e-12)


def test_power_law_skips_missing_groups():
    out = powerlaw.fit_power_law(
        [2, 5, 8], [40.0, None, 160.0], [30.0, None, 120.0], [50.0, None, None]
    )
    assert out["k"] is None and "two or more" in out["reason"]
    out = powerlaw.fit_power_law(
        [2, 5, 8], [40.0, None, 160.0], [30.0, None, 120.0], [50, None, 200]
    )
    assert out["groups_used"] == [2.0, 8.0] and out["k"] == pytest.approx(1.0)
    assert out["chi2_per_dof"] is None  # two points, no degrees of freedom
