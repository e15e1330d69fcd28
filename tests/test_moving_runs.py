"""Verdicts of runs that are still moving: on their way to interpolation, escaping a saddle,
or slow at a certified local minimum (``verdicts.judge`` on constructed records and
certificates with known answers)."""

import numpy as np

from alignment.two_layer.verdict import verdicts as vd

QUARTER = 0.25  # the forecast window, in decades (forecast.FORECAST_DECADES)


def test_a_falling_run_whose_region_minimum_is_zero_is_on_its_way():
    """L = 0.1 / t over the last decade (p = 1): from L_f = 1e-4 at t = 1e3 the tolerance
    1e-5 * scale (scale = L(0) = 1) is a factor 10 away, at t = 1e3 * 10^(1/1) = 1e4."""
    times = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    loss = np.array([[1.0, 0.1, 0.01, 1e-3, 1e-4]] * 2)
    rec = vd.Record(times, loss, np.ones_like(loss), np.ones(2))
    certs = {"region_min": np.array([0.0, 5e-5]), "kappa_max": np.full(2, -np.inf)}
    v, d = vd.judge(rec, certs)
    assert list(v) == ["undetermined"] * 2
    # the second cannot fall below its region minimum 5e-5 > tol: moving, not on its way
    assert list(d["decided_by"]) == ["on_its_way", "moving"]
    np.testing.assert_allclose(d["interp_time"], 1e4, rtol=1e-9)
    flat = vd.Record(times, np.full((1, 5), 1e-4), np.zeros((1, 5)), np.ones(1))
    assert vd.judge(flat, None)[1]["interp_time"][0] == np.inf  # no decay: no prediction


def test_interp_time_reads_the_recent_decay_of_a_run_that_speeds_up():
    """Nearly flat over most of the decade (1.1e-2 at t = 100), then L ~ t^-4 over the last
    quarter decade (1e-2 at t = 1e3 / 10^0.25, 1e-3 at t = 1e3): the tolerance 1e-5 is a factor
    100 away, reached at t = 1e3 * 100^(1/4) = 10^3.5 by the recent rate. The decade's mean rate
    (p = log 11 / log 10) would put it beyond 8e4, past a later cap of 1e5 / 2."""
    t_recent = 1e3 / 10**QUARTER
    times = np.array([0.0, 100.0, t_recent, 1e3])
    loss = np.array([[1.0, 1.1e-2, 1e-3 * 10 ** (4 * QUARTER), 1e-3]])
    d = vd.judge(vd.Record(times, loss, np.ones_like(loss), np.ones(1)), None)[1]
    np.testing.assert_allclose(d["interp_time"], 10**3.5, rtol=1e-9)  # closed form, float64


def test_settle_time_is_when_the_excess_over_the_region_minimum_reaches_the_gap():
    """L = 0.1 + 1e-3 (t / 1e3)^-2 (excess decaying with p = 2) and region_min = 0.1: the excess
    1e-3 at t = 1e3 reaches gap_tol * 0.1 = 1e-4 a factor 10 later in excess, at
    t = 1e3 * 10^(1/2). The same run with its loss at the window's start under the minimum
    (it came from another region) has no forecast; one within the gap is there now."""
    t_recent = 1e3 / 10**QUARTER
    times = np.array([0.0, t_recent, 1e3])
    excess = np.array([1.0, 1e-3 * 10 ** (2 * QUARTER), 1e-3])
    loss = 0.1 + np.array([excess, [excess[0], -0.05, 1e-3], [1.0, 1e-3, 5e-5]])
    certs = {"region_min": np.full(3, 0.1), "kappa_max": np.full(3, -np.inf)}
    d = vd.judge(vd.Record(times, loss, np.ones_like(loss), np.ones(3)), certs)[1]
    np.testing.assert_allclose(d["settle_time"][0], 10**3.5, rtol=1e-9)  # closed form, float64
    assert d["settle_time"][1] == np.inf and d["settle_time"][2] == 1e3


def test_a_moving_run_with_a_growing_small_neuron_is_escaping():
    times = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    loss = np.array([[1.0, 0.5, 0.3, 0.2, 0.1]] * 2)
    rec = vd.Record(times, loss, np.ones_like(loss), np.ones(2))
    certs = {"region_min": np.full(2, np.nan), "kappa_max": np.array([1e-3, -1.0])}
    v, d = vd.judge(rec, certs)
    assert list(v) == ["undetermined"] * 2
    assert list(d["decided_by"]) == ["escaping", "moving"]


def test_a_slow_run_at_a_certified_local_minimum_is_stuck_while_approaching():
    """The loss fell 5% over the last decade (not flat) and sits within the gap of its region
    minimum, which no escape or kink leaves: stuck ('at_minimum') when its speed is small
    now (t g^2 / L = 1e-6 < grad_tol), open when it is not (1e-3), a saddle with a kink."""
    times = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    loss = np.array([[1.0, 0.5, 0.3, 0.21, 0.2]] * 4)
    g_slow, g_fast = np.sqrt(1e-6 * 0.2 / 1000), np.sqrt(1e-3 * 0.2 / 1000)
    speed = np.array([[g_slow] * 5, [g_fast] * 5, [g_slow] * 5, [g_slow] * 5])
    rec = vd.Record(times, loss, speed, np.ones(4))
    certs = {
        "region_min": np.array([0.2, 0.2, 0.2, 0.19]) * (1 - 1e-4),
        "kappa_max": np.full(4, -np.inf),
        "kink_max": np.array([-0.1, -0.1, 0.1, -0.1]),
        "split_max": np.full(4, -np.inf),
    }
    v, d = vd.judge(rec, certs)
    assert list(v) == ["stuck", "undetermined", "saddle", "undetermined"]
    # the last: 5% above its region minimum, outside the gap
    assert list(d["decided_by"]) == ["at_minimum", "not_stationary", "kink", "moving"]
