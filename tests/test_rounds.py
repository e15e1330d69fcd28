"""The verdict loop's rounds (``rounds.py``): when they end, and which runs each continues,
with and without the later cap ``escape_cap``, on constructed loops."""

import ml_collections
import numpy as np

from alignment.two_layer import records, rounds


def _cfg(escape_cap=0.0, later_steps=0.0):
    return ml_collections.ConfigDict(
        {
            "max_time": 1e3,
            "time_cap": 2.5e4,
            "escape_cap": escape_cap,
            "later_steps": later_steps,
            "continue_factor": 10.0,
            "snapshots_per_decade": 4,
            "num_snapshots": 5,
            "t_min": 1.0,
            "verdict": {"kink_tol": 1e-4, "kappa_tol": 1e-7, "gap_tol": 1e-3},
        }
    )


def test_rounds_end_at_the_cap_then_at_the_later_cap():
    ends = [rounds.round_end(_cfg(), r) for r in range(5)]
    assert ends == [1e3, 1e4, 2.5e4, 2.5e4, 2.5e4]
    ends = [rounds.round_end(_cfg(2.5e6), r) for r in range(6)]
    np.testing.assert_allclose(ends, [1e3, 1e4, 2.5e4, 2.5e5, 2.5e6, 2.5e6], rtol=1e-12)
    assert rounds.last_cap(_cfg()) == 2.5e4 and rounds.last_cap(_cfg(2.5e6)) == 2.5e6


def test_past_the_cap_rounds_multiply_by_the_later_factor():
    """later_factor = 10^(1/4): from time_cap = 2.5e4 four rounds a decade up to the later cap
    1e6 (closed form 2.5e4 x 10^(k/4), the last one cut at the cap); before the cap, x 10."""
    cfg = _cfg(1e6)
    cfg.later_factor = 10**0.25
    ends = [rounds.round_end(cfg, r) for r in range(12)]
    later = [2.5e4 * 10 ** (k / 4) for k in range(1, 7)]  # up to 7.9e5; then the cap
    np.testing.assert_allclose(ends, [1e3, 1e4, 2.5e4, *later, 1e6, 1e6, 1e6], rtol=1e-12)
    times = rounds.round_times(cfg, 3)  # a quarter decade at snapshots_per_decade = 4
    np.testing.assert_allclose(times, [2.5e4 * 10**0.25], rtol=1e-12)
    cfg.later_factor = 0.0  # 0: continue_factor
    np.testing.assert_allclose(rounds.round_end(cfg, 3), 2.5e5, rtol=1e-12)


def _loop(r, t_final, verdict, step=0.25):
    """A loop at round r whose lanes' last snapshot times are t_final, reached by steps of
    ``step`` (a number or one per lane), with these verdicts."""
    loop = records.Loop(np.ones(len(verdict), bool), round=r)
    loop.snaps = {"time": np.stack([[0.0, t] for t in t_final])}
    loop.snaps["step"] = loop.snaps["time"] / np.reshape(step, (-1, 1))
    loop.verdict = np.array(verdict)
    return loop


def test_past_the_cap_only_near_ends_continue_and_then_only_those():
    """Eight runs open at time_cap (round 3 starts there): an escape predicted at 1e5, one at
    1e7, an interpolation predicted at 2e5, a run settling into a certified minimum (in its
    neighbourhood), the same with a kink at that minimum (outside the gap: not there yet),
    the same outside its neighbourhood but within the gap of it, one outside both, and one
    within the gap of a minimum with a kink (leaving it now). With escape_cap = 2.5e5 the near
    ends continue; in the next round only the runs that continued to 2.5e5 do."""
    verdict = ["saddle", "saddle"] + ["undetermined"] * 5 + ["saddle"]
    inf, nan = np.inf, np.nan
    ev = {
        "predicted_escape_time": np.array([1e5, 1e7, inf, inf, inf, inf, inf, inf]),
        "interp_time": np.array([inf, inf, 2e5, inf, inf, inf, inf, inf]),
        "kink_max": np.array([nan, nan, nan, 0.0, 0.5, -np.inf, 0.0, 0.5]),
        "polish_kappa": np.array([nan, nan, nan, 1e-9, 1e-9, -np.inf, 1e-9, -np.inf]),
        "polish_dist": np.array([nan, nan, nan, 0.5, 0.5, 3.0, 3.0, 3.0]),
        "region_gap": np.array([nan, nan, nan, 2e-3, 2e-3, 5e-4, 2e-3, 5e-4]),
    }
    near = [True, False, True, True, False, True, False, True]
    at_cap = _loop(3, [2.5e4] * 8, verdict)
    assert list(rounds.continuing(_cfg(2.5e5), at_cap, 8, ev)) == near
    assert not rounds.wants_more(_cfg(), at_cap, 8, ev)  # no later cap: the loop ends
    before = _loop(2, [1e4] * 8, verdict)  # before the cap every open run continues
    assert list(rounds.continuing(_cfg(2.5e5), before, 8, ev)) == [True] * 8
    after = _loop(4, [2.5e5 if w else 2.5e4 for w in near], verdict)
    cfg = _cfg(2.5e6)
    assert list(rounds.continuing(cfg, after, 8, ev)) == near
    assert list(rounds.continuing(cfg, after, 1, ev)) == [True] + [False] * 7  # padding


def test_past_the_cap_a_run_settling_by_the_later_cap_continues():
    """Three runs at time_cap = 2.5e4, outside the neighbourhood (polish_dist 3) and the gap
    (2e-3) of a region minimum: certified a local minimum and reached at its recent rate at 2e5
    (by escape_cap = 2.5e5: continues), at 1e6 (does not), and at 2e5 but with a kink at that
    minimum (it is no end: does not)."""
    ev = {
        "kink_max": np.array([0.0, 0.0, 0.5]),
        "polish_kappa": np.full(3, -np.inf),
        "polish_dist": np.full(3, 3.0),
        "region_gap": np.full(3, 2e-3),
        "settle_time": np.array([2e5, 1e6, 2e5]),
    }
    at_cap = _loop(3, [2.5e4] * 3, ["undetermined"] * 3)
    assert list(rounds.continuing(_cfg(2.5e5), at_cap, 3, ev)) == [True, False, False]


def test_past_the_cap_a_run_at_a_minimum_where_a_small_neuron_grows_continues_to_its_escape():
    """Four saddles at time_cap = 2.5e4, no small neuron growing at the run (no predicted
    escape), within the gap (5e-4) of a region minimum where one grows (polish_kappa 1e-5,
    the polished point exact): its escape from there predicted at 1e5 (by escape_cap = 2.5e5:
    continues) or at 1e7 (does not); the first again outside the gap (2e-3: not there yet), or
    with a polished point that is not the region minimum (polish_gap 0.5: no evidence): does
    not."""
    ev = {
        "predicted_escape_time": np.full(4, np.inf),
        "kink_max": np.zeros(4),
        "polish_kappa": np.full(4, 1e-5),
        "polish_escape_time": np.array([1e5, 1e7, 1e5, 1e5]),
        "polish_gap": np.array([0.0, 0.0, 0.0, 0.5]),
        "polish_dist": np.full(4, 3.0),
        "region_gap": np.array([5e-4, 5e-4, 2e-3, 5e-4]),
    }
    at_cap = _loop(3, [2.5e4] * 4, ["saddle"] * 4)
    assert list(rounds.continuing(_cfg(2.5e5), at_cap, 4, ev)) == [True, False, False, False]


def test_past_the_cap_a_run_leaving_a_kink_continues_only_within_the_step_budget():
    """Three runs at time_cap = 2.5e4: one settling into a certified minimum and one leaving a
    region minimum across a kink, both sharpened to steps of 0.02 (1.1e7 steps to escape_cap =
    2.5e5), and one leaving at steps of 0.25 (9e5). With later_steps = 1e6 the settling run
    (its end is near) and the cheap leaving run continue, the costly leaving one does not
    (nothing predicts where it goes); with 0 (no limit), all three."""
    ev = {
        "kink_max": np.array([0.0, 0.5, 0.5]),
        "polish_kappa": np.full(3, 1e-9),
        "polish_dist": np.full(3, 0.5),
        "region_gap": np.full(3, 5e-4),
    }
    at_cap = _loop(3, [2.5e4] * 3, ["undetermined", "saddle", "saddle"], step=[0.02, 0.02, 0.25])
    assert list(rounds.continuing(_cfg(2.5e5, 1e6), at_cap, 3, ev)) == [True, False, True]
    assert list(rounds.continuing(_cfg(2.5e5), at_cap, 3, ev)) == [True, True, True]


def test_a_run_its_step_budget_stopped_is_not_continued():
    """Before the cap, at round 2 (from 1e4): three open runs, two that reached 1e4 (one by
    fixed steps of 0.3, whose whole number of steps ends 0.1 short of it) and one that its
    round's step budget stopped at 6e3; and an interpolating run. Only the two continue."""
    verdict = ["undetermined", "saddle", "undetermined", "interpolating"]
    loop = _loop(2, [1e4, 9999.9, 6e3, 500.0], verdict, step=np.array([0.25, 0.3, 0.02, 0.25]))
    assert list(rounds.continuing(_cfg(), loop, 4, None)) == [True, True, False, False]
