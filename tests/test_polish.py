"""Polish (``polish.py``): a run still approaching a certified region minimum, moved there and
certified there, against a constructed case with a closed form, and the flow from the run."""

from pathlib import Path

import numpy as np
import pytest
from toys import flow_from

from alignment.two_layer.verdict import certificates, certify, polish
from alignment.two_layer.verdict import verdicts as vd

# Three points in d = 2. A positive neuron active on x1 and x3 (x2 off: v2 < 0) fits them
# exactly at V* = (2, -1), inside its region (no constraint active); x2's target -2 stays
# unfitted: loss 4 / 6. Crossing nothing, with no small neuron: a strict local minimum.
X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
Y = np.array([2.0, -2.0, 1.0])
V_STAR, LOSS = np.array([2.0, -1.0]), 4 / 6
# The run: V = V* + (0.002, -0.001) = 1.001 V*, residuals (0.002, 2, 0.001): 1.25e-6 above the
# minimum (relative), along V*'s own direction (polish_dist 0: patterns depend on directions
# only); x1, x2, x3 lie at cosines 2, 1 and 1 / sqrt(2) over sqrt(5) from V*'s hyperplane:
# margin 1 / sqrt(10).
V_RUN = V_STAR + np.array([0.002, -0.001])
MARGIN = 1 / np.sqrt(10)


def _pair(v):
    """Two balanced neurons in one group whose vectors are v / 4 and 3 v / 4 (sizes 1 : 3)."""
    w = np.stack([v / np.linalg.norm(v) * np.sqrt(c * np.linalg.norm(v)) for c in (0.25, 0.75)])
    return w, np.linalg.norm(w, axis=1)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_polished_point_is_the_region_minimum_in_balanced_parameters(sign):
    """And the mirror image (targets -y, a negative neuron: V = a w = -|a| w)."""
    w, a = _pair(V_RUN)
    a, y = sign * a, sign * Y
    region = certificates.region_minimum(w, a, X, y)
    assert region["region_min"] == pytest.approx(LOSS, rel=1e-7)
    w_p, a_p = polish.balanced_at(w, a, region["solution"], region["v_GxD"])
    np.testing.assert_allclose(a_p @ w_p, sign * V_STAR, atol=1e-7)  # Clarabel: ~1e-8
    np.testing.assert_allclose(np.abs(a_p), np.linalg.norm(w_p, axis=1), rtol=1e-12)  # balanced
    # the members keep their shares 1 : 3 of |V*| = sqrt(5), each balanced: a_j^2 = c_j |V*|
    np.testing.assert_allclose(a_p**2, np.array([0.25, 0.75]) * np.sqrt(5), rtol=1e-6)
    assert np.all(np.sign(a_p) == sign)
    out = polish.polish_test(w, a, X, y, region)
    assert out["polish_gap"] == pytest.approx(0.0, abs=1e-7)  # loss 4/6 at V*, as the QP says
    assert out["polish_kappa"] == -np.inf  # no small neuron at V*
    # the angle between V_run and V* is 0; Clarabel's ~1e-8 on V* leaves ~1e-8 rad of it
    assert out["polish_dist"] == pytest.approx(0.0, abs=1e-6)
    assert out["polish_margin"] == pytest.approx(MARGIN, rel=1e-6)


def _judge(certs, fast=True):
    """A run falling 0.27% over its last decade (not flat) to 3.3e-4 above the minimum, still
    fast (t g^2 / L = 1e-3) or slow (1e-6)."""
    times = np.array([0.0, 10.0, 100.0, 1000.0])
    loss = LOSS * np.array([[5.0, 1.03, 1.003, 1.00033]])
    speed = np.full_like(loss, np.sqrt((1e-3 if fast else 1e-6) * loss[0, -1] / 1000.0))
    v, d = vd.judge(vd.Record(times, loss, speed, loss[:, 0]), certs)
    return v[0], d["decided_by"][0]


def _run_certs():
    w, a = _pair(V_RUN)
    return {k: np.array([v]) for k, v in certify.certify_run(w, a, X, Y).items()}


def test_a_fast_run_in_the_neighbourhood_of_a_certified_minimum_is_polished():
    certs = _run_certs()
    assert _judge(certs) == ("stuck", "polished")
    assert _judge(certs, fast=False) == ("stuck", "at_minimum")  # slow: no polish needed


@pytest.mark.parametrize(
    "change",
    [
        {"polish_dist": np.array([1.0])},  # a kink may lie between the run and V*
        {"polish_kappa": np.array([1e-3])},  # a small neuron grows at the polished point
        {"polish_gap": np.array([0.01])},  # the polished loss is not the region minimum
        {"kink_max": np.array([0.5])},  # V* is not a local minimum: a saddle
    ],
)
def test_each_polish_criterion_is_needed(change):
    verdict, why = _judge(_run_certs() | change)
    assert verdict != "stuck", (change, why)


def test_the_flow_from_the_run_reaches_the_polished_minimum():
    """The family's own gradient flow from the run's parameters ends at V* = (2, -1), loss
    4/6: the minimum the polish certified is where the run goes."""
    w, a = _pair(V_RUN)
    loss, params = flow_from(X, Y, w, a, np.geomspace(1.0, 100.0, 9))
    # the approach is exponential inside the region (rate ~ the smallest curvature of the
    # loss in V times the neurons' size, O(1)): long done by t = 100 to the flow's accuracy
    assert loss[-1] == pytest.approx(LOSS, rel=1e-8)
    np.testing.assert_allclose(params["a"] @ params["w"], V_STAR, atol=1e-6)


def test_the_minimum_is_the_one_nearest_the_run_on_a_face_of_minimizers():
    """One point x = (1, 0), y = 1 in d = 2: every V = (1, v2) fits it (loss 0 is not the
    question here: the face of minimizers is a line). From the run V = (0.9, 0.7) the nearest
    is (1, 0.7), not the face's central point: the run's direction is atan(0.7 / 0.9) -
    atan(0.7) rad from V*'s, and x lies at cosine 1 / |(1, 0.7)| from V*'s hyperplane."""
    x, y = np.array([[1.0, 0.0]]), np.array([1.0])
    v_run = np.array([0.9, 0.7])
    w = (v_run / np.sqrt(np.linalg.norm(v_run)))[None, :]
    a = np.linalg.norm(w, axis=1)
    region = certificates.region_minimum(w, a, x, y)
    # Clarabel's tolerance ~1e-8 on the face QP's optimality
    np.testing.assert_allclose(region["v_GxD"][0], [1.0, 0.7], atol=1e-6)
    out = polish.polish_test(w, a, x, y, region)
    norm = np.hypot(1.0, 0.7)
    angle = np.arctan(0.7 / 0.9) - np.arctan(0.7)
    assert out["polish_dist"] == pytest.approx(angle / np.arcsin(1.0 / norm), rel=1e-5)
    assert out["polish_margin"] == pytest.approx(1.0 / norm, rel=1e-6)


# Two groups in d = 2 at V*_0 = e1 and V*_1 = e2. x1 = (0.001, 1) lies at cosine ~1e-3 from
# e1's hyperplane (group 0's margin), x2 = (1, 0.5) at 0.5 / |x2| from e2's (group 1's, the
# smaller of x1's ~1 and that). Group 0 at the run is 2 e1 (it still grows, on its
# direction), group 1 is e2 turned by 0.2 rad.
X_TWO = np.array([[0.001, 1.0], [1.0, 0.5]])
MARGINS = np.array([0.001 / np.hypot(0.001, 1.0), 0.5 / np.hypot(1.0, 0.5)])


def _turned(angle):
    return np.array([np.sin(angle), np.cos(angle)])


def test_reach_counts_each_groups_turn_against_its_own_margin():
    """Group 0 grows (no turn) next to a hyperplane and group 1 turns by 0.2 rad far from
    any: reach = 0.2 / asin(margin_1), inside (a ball of |V - V*| / |V*| against the smallest
    margin would put the run 1000x outside). Turning group 0 by 2e-3 rad crosses x1's plane
    (2e-3 / asin(1e-3) ~ 2); group 1 by 0.5 rad, past asin(margin_1) ~ 0.46, too."""
    v_to = np.eye(2)
    np.testing.assert_allclose(polish.margins(v_to, X_TWO), MARGINS, rtol=1e-12)
    v_from = np.stack([2.0 * np.array([1.0, 0.0]), _turned(0.2)])
    # arccos near 1 loses ~1e-8 rad: the closed forms hold to 1e-6 relative
    expect = 0.2 / np.arcsin(MARGINS[1])
    assert polish.reach(v_from, v_to, X_TWO) == pytest.approx(expect, rel=1e-6)
    v_from[0] = np.array([np.cos(2e-3), np.sin(2e-3)])
    assert polish.reach(v_from, v_to, X_TWO) == pytest.approx(
        2e-3 / np.arcsin(MARGINS[0]), rel=1e-6
    )
    v_from = np.stack([np.array([1.0, 0.0]), _turned(0.5)])
    assert polish.reach(v_from, v_to, X_TWO) > 1.0
    # a group with every data point on its hyperplane (their kinks are the kink test's) has no
    # other hyperplane to turn across: any turn is inside
    on_plane = np.array([[0.0, 1.0]])
    assert polish.reach(_turned(0.3)[None, ::-1], np.array([[1.0, 0.0]]), on_plane) == 0.0


def _transient_state():
    """The big neuron just short of V* (V = V* - (0.002, -0.001): residuals -0.002, 2,
    -0.001) and a small one (rho^2 = 1e-10) with its pattern and sign: it grows now, at
    kappa = (0.002 <u, x1> + 0.001 <u, x3>) / 3 > 0, but at V* the residual vanishes on its
    pattern and so does its growth rate."""
    v = V_STAR - np.array([0.002, -0.001])
    u = V_STAR / np.linalg.norm(V_STAR)
    w = np.stack([v / np.sqrt(np.linalg.norm(v)), 1e-5 * u])  # balanced: |a_j| = |w_j|
    a = np.linalg.norm(w, axis=1)
    return w, a


def test_a_small_neuron_whose_growth_the_minimum_absorbs_is_no_escape():
    w, a = _transient_state()
    certs = {k: np.array([v]) for k, v in certify.certify_run(w, a, X, Y).items()}
    assert certs["kappa_max"][0] > 1e-4  # it grows now (closed form ~ 1e-3)
    assert certs["polish_kappa"][0] <= 1e-7  # and not at V* (Clarabel's residual ~1e-8)
    assert _judge(certs) == ("stuck", "polished")
    # where the polished point lets it grow, it is a saddle
    assert _judge(certs | {"polish_kappa": np.array([1e-3])}) == ("saddle", "escape")


def test_the_flow_absorbs_the_small_neuron_growth():
    """The family's flow from that state: the loss reaches 4/6 and the small neuron grows by
    exp(2 int kappa dt), int kappa dt ~ kappa(0) / (decay rate O(1)) ~ 1e-3: a factor ~1."""
    w, a = _transient_state()
    loss, p = flow_from(X, Y, w, a, np.geomspace(1.0, 100.0, 9), atol=1e-14)
    assert loss[-1] == pytest.approx(LOSS, rel=1e-8)
    growth = abs(p["a"][1]) * np.linalg.norm(p["w"][1]) / 1e-10
    assert 1.0 < growth < 1.1, growth  # it grew, by less than 10%


def test_a_slow_run_at_a_minimum_where_a_small_neuron_grows_is_a_saddle():
    """No small neuron grows at the run (kappa_max -1e-5), it is slow and within the gap of its
    region minimum, where one grows (polish_kappa 1e-3 at an exact polished point): that
    minimum is a saddle of the whole loss, and the run leaves it once it arrives. With a
    polished point that is not the minimum (polish_gap 0.5) the growth there is no evidence."""
    certs = _run_certs() | {"kappa_max": np.array([-1e-5]), "polish_kappa": np.array([1e-3])}
    assert _judge(certs, fast=False) == ("saddle", "escape")
    assert _judge(certs | {"polish_gap": np.array([0.5])}, fast=False) == ("stuck", "at_minimum")


def test_the_growth_rate_at_a_minimum_is_read_with_its_own_residual():
    """threshold_wide, n = 64, seed 10 (tests/data/make_vanishing_groups.py), certified stuck.
    Its polished point keeps six small groups that vanish at the minimum: with that point's own
    residual a small neuron grows (2.9e-6, 29x kappa_tol), which would call the run an escape;
    with the minimum's residual, which every minimizer of the region shares, nothing grows.
    (The flow does leave this run; its certificates miss a descent across those groups' kinks:
    BENCHMARKS.md, benchmarks/vanishing_kinks.py. This test pins the growth rate only.)"""
    state = np.load(Path(__file__).parent / "data" / "vanishing_groups.npz")
    assert (str(state["verdict"]), str(state["decided_by"])) == ("stuck", "certified")
    w, a, x, y = (state[k] for k in ("w", "a", "x", "y"))
    tol = vd.DEFAULT_TOLERANCES
    region = certificates.region_minimum(w, a, x, y)
    w_p, a_p = polish.balanced_at(w, a, region["solution"], region["v_GxD"])
    kept = certificates.escape_test(w_p, a_p, x, y)["kappa_max"]
    assert kept > 10 * tol.kappa_tol
    certs = {k: np.array([v]) for k, v in certify.certify_run(w, a, x, y).items()}
    # ~1e-13: a small neuron in a group's pattern, where the group's stationarity leaves no
    # residual along it; 1e6x below the tolerance
    assert certs["polish_kappa"][0] <= tol.kappa_tol
    assert certs["kappa_max"][0] < -tol.kappa_tol  # nothing grows at the run either (-1.3e-5)
    assert abs(certs["polish_gap"][0]) < tol.gap_tol  # the kept members cost 6.5e-8 of loss
    time, loss, speed = (state[k][None] for k in ("time_K", "loss_K", "speed_K"))
    record = vd.Record(time, loss, speed, loss[:, 0])  # scale: the initial loss, as the job's
    assert vd.judge(record, certs)[1]["decided_by"][0] != "escape"
    with_kept = certs | {"polish_kappa": np.array([kept])}
    assert vd.judge(record, with_kept)[1]["decided_by"][0] == "escape"
