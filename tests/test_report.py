"""The threshold job's printed summary (``two_layer/report.py``): every line names its group and
says in words what each reading of the runs without a verdict gives."""

from alignment.two_layer import report


def _group(**kw):
    est = {"n_star": 20.0, "ci_low": 15.0, "ci_high": 30.0, "reason": None}
    g = {"sweep": "s", "lam": 0.001, "ci_level": 0.95, "ci_note": None, **est}
    g |= {"without_verdict": 4, "if_interpolating": dict(est), "if_stuck": dict(est)}
    g["interval_both"] = {"ci_low": 15.0, "ci_high": 30.0}
    return g | kw


def test_the_group_is_named_by_the_axes_that_vary():
    line = report.describe_group(_group(), ["sweep", "lam"])
    assert line.startswith("[s lam=0.001] n* = 20, 95% CI [15, 30]; 4 runs without a verdict")
    assert line.endswith("counted both ways: [15, 30]")


def test_an_open_reading_is_said_in_words_not_as_question_marks():
    open_est = {"n_star": None, "ci_low": None, "ci_high": None, "reason": "above the largest n"}
    g = _group(if_interpolating=open_est, interval_both={"ci_low": 15.0, "ci_high": None})
    line = report.describe_group(g, ["sweep"])
    assert "?, ?" not in line
    assert line.endswith(
        "counted both ways: as interpolating not resolved (above the largest n), "
        "as not n* = 20 [15, 30]"
    )


def test_no_n_star_says_why():
    g = _group(n_star=None, reason="all runs interpolate", without_verdict=0)
    assert report.describe_group(g, ["sweep"]) == "[s] n* not resolved: all runs interpolate"
