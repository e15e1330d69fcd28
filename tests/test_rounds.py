"""The verdict loop's rounds (``rounds.py``): when they end, and which runs each continues,
with and without the later cap ``escape_cap``, on constructed loops."""

import ml_collections
import numpy as np

from alignment.two_layer import records, rounds


def _cfg(escape_cap=0.0):
    return ml_collections.ConfigDict(
        {
            "max_time": 1e3,
            "time_cap": 2.5e4,
            "escape_cap": escape_cap,
            "continue_factor": 10.0,
            "snapshots_per_decade": 4,
            "num_snapshots": 5,
            "t_min": 1.0,
            "verdict": {"flat_tol": 1e-3},
        }
    )


def test_rounds_end_at_the_cap_then_at_the_later_cap():
    ends = [rounds.round_end(_cfg(), r) for r in range(5)]
    assert ends == [1e3, 1e4, 2.5e4, 2.5e4, 2.5e4]
    ends = [rounds.round_end(_cfg(2.5e6), r) for r in range(6)]
    np.testing.assert_allclose(ends, [1e3, 1e4, 2.5e4, 2.5e5, 2.5e6, 2.5e6], rtol=1e-12)
    assert rounds.last_cap(_cfg()) == 2.5e4 and rounds.last_cap(_cfg(2.5e6)) == 2.5e6


def _loop(r, t_final, verdict):
    """A loop at round r whose lanes' last snapshot times are t_final, with these verdicts."""
    loop = records.Loop(np.ones(len(verdict), bool), round=r)
    loop.snaps = {"time": np.stack([[0.0, t] for t in t_final])}
    loop.verdict = np.array(verdict)
    return loop


def test_past_the_cap_far_ends_stop_and_then_only_those_that_went_on_continue():
    """Seven runs at time_cap (round 3 starts there): a flat run with an escape predicted at
    1e5, one at 1e7, a moving one at 1e7 (more than the escape ahead of it), an interpolation
    predicted at 2e5, one at 1e7, a moving run (no prediction) and a stuck run. With
    escape_cap = 2.5e5 the far ends stop and the others continue; in the next round only the
    runs that continued to 2.5e5 do."""
    verdict = ["saddle"] * 3 + ["undetermined"] * 3 + ["stuck"]
    why = ["escape", "escaping", "escape", "on_its_way", "on_its_way", "moving", "certified"]
    ev = {
        "decided_by": np.array(why),
        "flat_change": np.array([1e-4, 5e-4, 0.5, 0.5, 0.5, 0.5, 1e-5]),
        "predicted_escape_time": np.array([1e5, 1e7, 1e7, np.inf, np.inf, np.inf, np.nan]),
        "interp_time": np.array([np.inf, np.inf, np.inf, 2e5, 1e7, np.inf, np.nan]),
    }
    went_on = [True, False, True, True, False, True, False]
    at_cap = _loop(3, [2.5e4] * 7, verdict)
    assert list(rounds.continuing(_cfg(2.5e5), at_cap, 7, ev)) == went_on
    assert not rounds.wants_more(_cfg(), at_cap, 7, ev)  # no later cap: the loop ends
    before = _loop(2, [1e4] * 7, verdict)  # before the cap every open run continues
    assert list(rounds.continuing(_cfg(2.5e5), before, 7, ev)) == [True] * 6 + [False]
    after = _loop(4, [2.5e5 if w else 2.5e4 for w in went_on], verdict)
    cfg = _cfg(2.5e6)
    assert list(rounds.continuing(cfg, after, 7, ev)) == went_on
    assert list(rounds.continuing(cfg, after, 1, ev)) == [True] + [False] * 6  # padding
