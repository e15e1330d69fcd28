"""Verdicts (``verdicts.py``) on synthetic loss curves and constructed certificates: each
criterion of stuck, saddle and interpolating, the evidence and the tolerances."""

import dataclasses
import json

import numpy as np
import pytest

from alignment.two_layer.verdict import verdicts as vd

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
# the certificates' criteria and the evidence
# ----------------------------------------------------------------------------------------------


def _flat_record(loss_value: float, runs: int):
    """Runs sitting still at ``loss_value`` over four decades (stationary by criterion 3)."""
    times = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    loss = np.full((runs, times.size), loss_value)
    return vd.Record(times, loss, np.zeros_like(loss), np.ones(runs))


def test_stuck_needs_the_loss_within_the_gap_of_its_region_minimum():
    rec = _flat_record(0.2, 3)
    # region minima: at the loss, 1e-4 below it (within gap_tol = 1e-3), 1% below it
    certs = {
        "region_min": np.array([0.2, 0.2 * (1 - 1e-4), 0.2 * 0.99]),
        "kappa_max": np.full(3, -1.0),
    }
    v, d = vd.judge(rec, certs)
    assert list(v) == ["stuck", "stuck", "undetermined"]
    assert list(d["decided_by"]) == ["certified", "certified", "region_gap"]


def test_stuck_needs_a_region_minimum_above_the_interpolation_tolerance():
    rec = _flat_record(1e-3, 2)
    # a region minimum ~0: the run may still interpolate inside its region, whatever its speed
    certs = {"region_min": np.array([1e-3, 1e-9]), "kappa_max": np.full(2, -1.0)}
    v, d = vd.judge(rec, certs)
    assert list(v) == ["stuck", "undetermined"]
    assert d["decided_by"][1] == "region_min_zero"


def test_an_escaping_neuron_makes_a_saddle_not_a_stuck_run():
    rec = _flat_record(0.2, 3)
    kappa = np.array(
        [-1.0, 0.5 * vd.DEFAULT_TOLERANCES.kappa_tol, 2 * vd.DEFAULT_TOLERANCES.kappa_tol]
    )
    certs = {"region_min": np.full(3, 0.2), "kappa_max": kappa}
    v, d = vd.judge(rec, certs)
    assert list(v) == ["stuck", "stuck", "saddle"]  # kappa above the tolerance only escapes
    assert d["decided_by"][2] == "escape"


def test_evidence_has_every_column_and_the_certificates_numbers():
    rec = _flat_record(0.2, 2)
    certs = {
        "region_min": np.array([0.2, np.nan]),
        "kappa_max": np.array([-1.0, np.nan]),
        "small_alive": np.array([3.0, np.nan]),
    }
    _, d = vd.judge(rec, certs)
    ev = vd.evidence(d)
    assert tuple(ev) == vd.EVIDENCE
    np.testing.assert_array_equal(ev["region_min"], certs["region_min"])
    np.testing.assert_array_equal(ev["small_alive"], certs["small_alive"])
    assert np.isnan(ev["predicted_escape_time"]).all()  # not certified: NaN, never dropped
    assert list(ev["decided_by"]) == ["certified", "stationary"]


def test_every_finite_open_run_needs_certificates_moving_or_flat():
    times = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    loss = np.array([[0.2] * 5, [1.0, 0.8, 0.5, 0.3, 0.2], [0.5, 0.1, 1e-9, 1e-9, 1e-9], [0.2] * 5])
    rec = vd.Record(times, loss, np.zeros_like(loss), np.full(4, 0.5), np.array([0, 0, 0, 1]))
    # flat, moving: certified; interpolating, diverged: not
    assert list(vd.needs_certificates(rec)) == [True, True, False, False]


def test_tolerances_from_a_config_section():
    section = {k: str(v) for k, v in vd.VerdictTolerances(gap_tol=0.5).to_dict().items()}
    assert vd.VerdictTolerances.from_config(section).gap_tol == 0.5


def test_a_run_at_a_region_minimum_below_the_tolerance_is_never_stuck():
    """Flat and within the gap of its region's minimum, but that minimum interpolates (below
    loss_tol = rel_tol * scale = 1e-5 here): the run may still interpolate in place."""
    tol = vd.DEFAULT_TOLERANCES.rel_tol
    rec = _flat_record(tol * (1 + 1e-6), 1)
    certs = {"region_min": np.array([tol * (1 - 1e-8)]), "kappa_max": np.array([-1.0])}
    v, d = vd.judge(rec, certs)
    assert d["region_gap"][0] < vd.DEFAULT_TOLERANCES.gap_tol  # the gap criterion alone holds
    assert list(v) == ["undetermined"] and d["decided_by"][0] == "region_min_zero"
