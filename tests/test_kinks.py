"""The kink test of a region minimum (crossing and splitting) against constructed cases whose
answers are known in closed form, and the flow from them."""

from pathlib import Path

import numpy as np
import pytest
from toys import flow_from

from alignment.two_layer.verdict import certificates, kinks, verdicts

# Three points in d = 2 (no bias). A positive neuron active on x1 and x3 fits them best with
# its group vector V = (v1, v2) at v2 = 0, on x2's hyperplane: the region's objective
# (v1^2 + (v1 + v2 - 2)^2 + 1) / 6 pulls v2 up (towards 2) and the constraint v2 <= 0 (x2 off
# the pattern) holds it. The minimum is V* = (1, 0), loss 1/2, multiplier z = 1/3, residual
# r2 = -1 at x2: crossing gains z - s r2 / n = 2/3 per unit, r_rms |x2| / n = 1/3 -> 2.
X_KINK = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
Y_KINK = np.array([0.0, 1.0, 2.0])
# The same geometry with y2 = -2: crossing now costs (x2 would add a positive output where the
# target is negative): the loss rises at 1/3 - 2/3 < 0 per unit across, and at 1/3 per unit
# back (the constraint's pull): no direction descends, and the one along the hyperplane, (1, 0),
# is flat (V* minimizes v1 there): kink_max = 0. A split gains -sqrt(2): a local minimum across
# the kink, loss (1 + 4 + 1) / 6 = 1.
Y_NO_KINK = np.array([0.0, -2.0, 2.0])
LOSS = {"kink": 0.5, "no_kink": 1.0}  # the region minima of the two cases
# Two points on one ray of the hyperplane, x2 = (0, 1) and x4 = (0, 2): they can only cross
# together. With x1, x3, y1, y3 as above, V* = (1, 0) still (n = 4, region gradient (0, -1/4)),
# and moving V* by (0, 1) changes the loss at -1/4 + (r2 + 2 r4) / 4, r2 = -y2 = -1, r4 = -y4.
# y4 = -0.8: rate 0.4 / 4 = 0.1 of descent, relative to r_rms x_on / n = sqrt(0.91 * 2.5) / 4:
# kink_max = 0.4 / sqrt(2.275). y4 = -2: the pair's crossing costs 1/4, nothing descends
# (kink_max = 0), though x2 alone would gain (-r2 / n > 0): a test that crossed one point at a
# time, with multipliers shared between x2 and x4 (not unique: z2 + 2 z4 = 1/4), could call it a
# kink.
X_RAY = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 2.0]])
Y_RAY = {
    "pair_gains": np.array([0.0, 1.0, 2.0, -0.8]),
    "pair_costs": np.array([0.0, 1.0, 2.0, -2.0]),
}


def test_growth_rate_kappa_has_the_closed_form_sign():
    """kappa(u) = -s (1/n) sum_i r_i relu(<u, x_i>): with x = e1, e2 and residual r = (-1, 1/2)
    (the network is below its target on e1), a positive neuron along e1 grows at 1/2, a
    negative one shrinks at 1/2, and one along e2 shrinks at 1/4; the ascent from e2 climbs to
    e1's rate (kappa = cos(t) / 2 - sin(t) / 4 at angle t in [0, pi/2] from e1, cos(t) / 2 below
    e1: its maximum is e1's 1/2)."""
    x, r = np.eye(2), np.array([-1.0, 0.5])
    u = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(
        certificates.kappa(u, np.array([1.0, -1.0, 1.0]), x, r), [0.5, -0.5, -0.25]
    )
    # from just off e2 (on e2 itself x1 sits on the kink, where the one-sided gradient is 0)
    best, _ = certificates.ascend_kappa(np.array([[0.05, 1.0]]), np.ones(1), x, r)
    assert best[0] == pytest.approx(0.5, rel=1e-3)  # 500 steps of <= 0.02 rad cover pi/2


def _theta(v, members: int):
    """``members`` equal balanced neurons whose group vector is ``v`` (a_j w_j sums to v)."""
    size = np.sqrt(np.linalg.norm(v) / members)
    w = np.tile(v / np.linalg.norm(v) * size, (members, 1))
    return w, np.full(members, size)


def test_region_minimum_at_a_kink_has_the_closed_form_gain():
    w, a = _theta(np.array([1.0, 0.0]), 1)
    out = certificates.region_minimum(w, a, X_KINK, Y_KINK)
    assert out["region_min"] == pytest.approx(0.5, rel=1e-7)
    # Clarabel's multipliers are accurate to ~1e-8; the closed form is 2 (module constants)
    assert out["kink_max"] == pytest.approx(2.0, rel=1e-5)
    assert out["split_max"] == -np.inf  # one neuron cannot split
    other = certificates.region_minimum(w, a, X_KINK, Y_NO_KINK)
    assert other["region_min"] == pytest.approx(1.0, rel=1e-7)
    # the flat direction along the plane: 0 up to the minimizer's accuracy (~1e-8 relative)
    assert abs(other["kink_max"]) < 1e-7


def test_points_that_cross_together_are_judged_together():
    """X_RAY: two points on one ray of V*'s hyperplane cross together; the kink test reads the
    pair's rate (closed forms above): a way down with y4 = -0.8, none with y4 = -2."""
    w, a = _theta(np.array([1.0, 0.0]), 1)
    gains = certificates.region_minimum(w, a, X_RAY, Y_RAY["pair_gains"])
    assert gains["region_min"] == pytest.approx((3 + 0.8**2) / 8, rel=1e-7)
    assert gains["kink_max"] == pytest.approx(0.4 / 2.275**0.5, rel=1e-5)
    costs = certificates.region_minimum(w, a, X_RAY, Y_RAY["pair_costs"])
    assert costs["region_min"] == pytest.approx(7 / 8, rel=1e-7)
    assert abs(costs["kink_max"]) < 1e-7


def _judged(certs):
    """Verdicts of a run flat at its region minimum over three decades, with ``certs``."""
    times = np.array([0.0, 10.0, 100.0, 1000.0, 1e4])
    loss = np.full((1, 5), certs["region_min"][0])
    loss[:, 0] = 3.0  # the initial loss: the scale of the interpolation tolerance
    speed = np.zeros_like(loss)
    v, d = verdicts.verdicts(times, loss, speed, loss[:, 0], certs=certs, details=True)
    return list(v), list(d["decided_by"])


def _certs(w, a, y):
    esc = certificates.escape_test(w, a, X_KINK, y)
    region = certificates.region_minimum(w, a, X_KINK, y)
    keys = ("region_min", "kink_max", "split_max")
    return {k: np.array([region[k]]) for k in keys} | {"kappa_max": np.array([esc["kappa_max"]])}


def test_a_positive_multiplier_at_a_kink_is_a_saddle_not_stuck():
    w, a = _theta(np.array([1.0, 0.0]), 1)
    assert _judged(_certs(w, a, Y_KINK)) == (["saddle"], ["kink"])
    assert _judged(_certs(w, a, Y_NO_KINK)) == (["stuck"], ["certified"])


def test_a_cluster_that_gains_by_splitting_is_a_saddle():
    """Two equal neurons at V*: with y2 = 1 splitting gains -s r2 / n / (r_rms |x2| / n) = 1;
    with y2 = -2 it loses (-sqrt(2)) and so does crossing: a local minimum, stuck."""
    w, a = _theta(np.array([1.0, 0.0]), 2)
    certs = _certs(w, a, Y_KINK)
    assert certs["split_max"][0] == pytest.approx(1.0, rel=1e-6)
    assert _judged(certs) == (["saddle"], ["split"])
    certs = _certs(w, a, Y_NO_KINK)
    assert certs["split_max"][0] == pytest.approx(-(2**0.5), rel=1e-6)
    assert _judged(certs) == (["stuck"], ["certified"])


def test_each_kink_criterion_is_needed_for_the_saddle():
    w, a = _theta(np.array([1.0, 0.0]), 2)
    certs = _certs(w, a, Y_KINK)
    assert _judged(certs | {"split_max": np.array([-1.0])}) == (["saddle"], ["kink"])
    no_way_down = certs | {"split_max": np.array([-1.0]), "kink_max": np.array([-1.0])}
    assert _judged(no_way_down) == (["stuck"], ["certified"])


def test_side_patterns_are_every_pattern_or_those_near_the_regions_own():
    """Up to EXACT_MAX on-plane points: all 2^k side patterns; beyond, the region's own pattern
    and those that move one or two points to the other side (1 + k + k(k-1)/2)."""
    assert len({tuple(p) for p in kinks.side_patterns(np.array([True, False, True]))}) == 8
    k = kinks.EXACT_MAX + 2
    base = np.arange(k) % 2 == 0
    pats = kinks.side_patterns(base)
    flips = np.sum(pats != base, axis=1)
    assert len({tuple(p) for p in pats}) == len(pats) == 1 + k + k * (k - 1) // 2
    assert flips.max() == 2 and np.sum(flips == 0) == 1


@pytest.mark.parametrize("y, leaves", [(Y_KINK, True), (Y_NO_KINK, False)])
def test_the_flow_from_a_kink_leaves_exactly_when_crossing_gains(y, leaves):
    """The family's own training from V*: gradient flow crosses the kink only where the gain
    is positive: x2 joins the pattern and the loss falls from 1/2 to the least squares of the
    three points, 1/18 (V = (1/3, 4/3)); at the other it stays at its region minimum, 1."""
    w, a = _theta(np.array([1.0, 0.0]), 1)
    # a nudge of 1e-6 off the plane (either side): gradient flow from the exact kink point
    # depends on the ReLU's derivative at 0, the nudge makes it a property of the landscape
    w = w + np.array([[0.0, -1e-6]])
    loss, params = flow_from(X_KINK, y, w, a, np.geomspace(1.0, 100.0, 21), rtol=1e-6)
    w_end = params["w"][0]
    if leaves:
        # rtol 1e-3: the flow's approach to 1/18 is exponential, long done by t = 100
        assert loss[-1] == pytest.approx(1 / 18, rel=1e-3) and w_end[1] > 0
    else:
        # it stays on the kink (the pull of each side points at the other), within the nudge
        assert loss[-1] == pytest.approx(1.0, rel=1e-5) and abs(w_end[1]) <= 1e-6


@pytest.mark.parametrize("case, leaves", [("pair_gains", True), ("pair_costs", False)])
def test_the_flow_from_a_ray_pair_leaves_exactly_when_the_pair_gains(case, leaves):
    """X_RAY from V* (nudged as above): with y4 = -0.8 the flow takes both points across and
    ends at the least squares of all four (every point active there); with y4 = -2 it stays."""
    x, y = X_RAY, Y_RAY[case]
    w, a = _theta(np.array([1.0, 0.0]), 1)
    w = w + np.array([[0.0, -1e-6]])
    # to t = 1e3 where it leaves (the approach to the least squares); where it stays the flow
    # chatters on the kink at small steps, and t = 100 (as for X_KINK) shows it stays
    t_end = 1e3 if leaves else 1e2
    loss, params = flow_from(x, y, w, a, np.geomspace(1.0, t_end, 13), rtol=1e-6)
    v, *_ = np.linalg.lstsq(x, y, rcond=None)
    w_end = params["w"][0]
    if leaves:
        assert np.all(x @ v > 0)  # the least squares is in the all-active region
        # rtol 1e-3: an exponential approach (X'X / n's eigenvalues >= 0.1) done by t = 1e3
        assert loss[-1] == pytest.approx(0.5 * np.mean((x @ v - y) ** 2), rel=1e-3)
        assert w_end[1] > 0
    else:
        assert loss[-1] == pytest.approx(7 / 8, rel=1e-5) and abs(w_end[1]) <= 1e-6


def test_the_known_false_stuck_run_is_a_kink_saddle():
    """threshold_quick, n = 181, seed 2 at t = 1e4 under fixed-step GD (tests/data/
    make_false_stuck.py): the revision before the kink test called it stuck (every neuron
    large, so the escape test checked nothing; 1.1e-4 above its region minimum), and gradient
    flow from it leaves (0.0991 -> 0.0178 by t = 1e5, BENCHMARKS.md). Its region minimum has
    data points on a group's hyperplane whose crossing lowers the loss: a saddle."""
    state = np.load(Path(__file__).parent / "data" / "false_stuck.npz")
    assert str(state["verdict_fixed_gd"]) == "stuck"
    w, a, x, y = (state[k] for k in ("w", "a", "x", "y"))
    esc = certificates.escape_test(w, a, x, y)
    assert esc["small_alive"] == 0  # the escape test has nothing to test
    region = certificates.region_minimum(w, a, x, y)
    assert 0 < (state["loss"] - region["region_min"]) / state["loss"] < 1e-3  # within the gap
    # the gain 0.025 is 250x the tolerance: not a near-tie decided by rounding
    assert region["kink_max"] > 100 * verdicts.DEFAULT_TOLERANCES.kink_tol
    certs = {k: np.array([region[k]]) for k in ("region_min", "kink_max", "split_max")}
    certs["kappa_max"] = np.array([esc["kappa_max"]])
    assert _judged(certs) == (["saddle"], ["kink"])
