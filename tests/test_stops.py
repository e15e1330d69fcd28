"""The verdict loop's stops inside the compiled loop: a run decided interpolating stops stepping
(``stop_interpolated``), and a continued run stops at its round's step budget (``round_steps``)."""

import json

import numpy as np
import pytest
import xarray as xr
from micro import finish, micro_config

from alignment import registry
from alignment.two_layer import records, verdict_loop
from alignment.two_layer.verdict import tolerances, verdicts


def test_the_stop_loss_is_the_verdicts_interpolation_tolerance():
    """Each run stops under max(abs_tol, rel_tol x its loss at t = 0), the loss under which the
    verdict calls it interpolating (so a stopped run is one); no stop without a first snapshot,
    with stop_interpolated off, or for a run with no finite loss at t = 0."""
    cfg = micro_config()
    loop = records.Loop(np.ones(3, bool))
    assert verdict_loop.stop_below(cfg, loop) is None  # nothing recorded yet
    loop.new = {"loss": np.array([[0.5, 0.1], [2e-6, 1e-7], [np.nan, np.nan]])}
    tol = verdicts.VerdictTolerances.from_config(cfg.verdict)
    expected = [tol.rel_tol * 0.5, max(tol.abs_tol, tol.rel_tol * 2e-6), -np.inf]
    # the same float64 products as the verdict's: equal to rounding
    np.testing.assert_allclose(verdict_loop.stop_below(cfg, loop), expected, rtol=1e-15)
    judged = verdicts.judge(
        verdicts.Record(
            np.array([[0.0, 1.0]] * 2),
            np.array([[0.5, 0.99 * expected[0]], [0.5, 1.01 * expected[0]]]),
            np.zeros((2, 2)),
            np.array([0.5, 0.5]),
        ),
        None,
        tol,
    )[0]
    assert list(judged) == ["interpolating", "undetermined"]  # the same line as the verdict's
    cfg.stop_interpolated = False
    assert verdict_loop.stop_below(cfg, loop) is None


@pytest.mark.timeout(300)
def test_stopping_interpolated_runs_changes_no_verdict_and_saves_steps(tmp_path):
    """The micro sweep on noise-free targets (interpolating and stuck runs), with interpolated
    runs stopping and with every run stepping to the end: the same verdicts, and the stopped
    runs end under the tolerance having taken no more steps (fewer where they stopped before
    the end of a round); the others take the same steps."""
    paths = {}
    for stop in (True, False):
        cfg = micro_config()
        cfg.sigma = (0.0,)
        cfg.stop_interpolated = stop
        paths[stop] = tmp_path / str(stop)
        registry.run(cfg, paths[stop])
        finish(cfg, paths[stop])
    stopped, full = (xr.open_dataset(paths[k] / "trajectories.nc") for k in (True, False))
    np.testing.assert_array_equal(stopped["verdict"].values, full["verdict"].values)
    interp = full["verdict"].values == "interpolating"
    assert interp.any() and (~interp).any()
    steps = {k: ds["step"].max("snapshot").values for k, ds in (("s", stopped), ("f", full))}
    # a run that reaches the tolerance only at its round's last snapshot saves nothing
    assert np.all(steps["s"][interp] <= steps["f"][interp])
    assert np.any(steps["s"][interp] < steps["f"][interp])
    np.testing.assert_array_equal(steps["s"][~interp], steps["f"][~interp])
    tol = tolerances.interp_tol(full["loss"].values[:, 0])
    last = stopped["last_snapshot"].values.astype(int)
    final_loss = stopped["loss"].values[np.arange(len(last)), last]
    assert np.all(final_loss[interp] < tol[interp])


@pytest.mark.timeout(300)
def test_a_run_stopped_by_its_step_budget_stays_open_where_it_stopped(tmp_path):
    """The micro sweep with 100 steps a continuation round: every run open at max_time = 50
    takes exactly 100 more steps, ends before the next round's end (500) and is not continued
    (its verdict is taken where it stopped: open, or decided there); summary.csv says
    budget_stop = 1 for those, 0 for the others."""
    cfg = micro_config()
    cfg.round_steps = 100.0
    registry.run(cfg, tmp_path)
    finish(cfg, tmp_path)
    ds = xr.open_dataset(tmp_path / "trajectories.nc")
    time, step = ds["time"].values, ds["step"].values
    at_max = np.argmin(np.abs(np.nan_to_num(time, nan=np.inf) - cfg.max_time), axis=1)
    last = ds["last_snapshot"].values.astype(int)
    rows = np.arange(len(last))
    continued = time[rows, last] > cfg.max_time * (1 + 1e-9)
    assert continued.any()
    np.testing.assert_array_equal(step[rows, last][continued], step[rows, at_max][continued] + 100)
    assert np.all(time[rows, last][continued] < 10 * cfg.max_time)
    np.testing.assert_array_equal(ds["budget_stop"].values, continued.astype(float))
    (group,) = json.loads((tmp_path / "threshold.json").read_text())["groups"]
    is_open = np.isin(ds["verdict"].values, ["undetermined", "saddle"])
    assert group["open_at_step_budget"] == int(np.sum(is_open & continued)) > 0
