"""The n* estimator on synthetic outcomes with a known n*, and the power law in d."""

import json

import numpy as np
import pytest

from alignment.two_layer.nstar import powerlaw
from alignment.two_layer.nstar import threshold as th

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
