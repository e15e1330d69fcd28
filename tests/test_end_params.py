"""Each run's end parameters in its chunk file: they reproduce its last recorded loss, so a
verdict can be checked again (continued, certified) from the stored results alone."""

import numpy as np
import xarray as xr
from micro import micro_config

from alignment import registry
from alignment.engine import train
from alignment.two_layer import end_state, grid


def numpy_loss(params, r, x_NxD, y_N) -> float:
    """L = (1/2n) sum_i (sum_j a_j relu(<w_j, x_i> + b_j) - y_i)^2, a plain forward pass."""
    pre_NxM = x_NxD @ params["w"][r].T + params.get("b", np.zeros_like(params["a"]))[r]
    r_N = np.maximum(pre_NxM, 0.0) @ params["a"][r] - y_N
    return 0.5 * float(np.mean(r_N**2))


def test_end_params_reproduce_each_runs_last_recorded_loss(micro_reference):
    _, _, path = micro_reference
    cfg = micro_config()
    runs = grid.expand(cfg)
    checked = 0
    for chunk in registry.check_config(cfg):
        ds = xr.load_dataset(path / "chunks" / f"chunk_{chunk.index:05d}.nc")
        lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
        _, ctx = train.init_runs(chunk.program, lanes)
        params = end_state.end_params(ds)
        data = ctx.family.train
        for r, run_id in enumerate(ds["run"].values):
            keep = np.asarray(data.mask_N[r]) > 0
            x, y = np.asarray(data.x_NxD[r])[keep], np.asarray(data.y_N[r])[keep]
            last = ds["loss"].sel(run=run_id).values[int(ds["last_snapshot"].sel(run=run_id))]
            # float64 run: the stored parameters are the state itself, so only the order of
            # summation differs from the compiled loss: ~1e-16 relative in the outputs, ~1e-12
            # in the loss of a run whose residuals cancel to 1e-4 of them (1e-10: margin)
            np.testing.assert_allclose(numpy_loss(params, r, x, y), last, rtol=1e-10)
            checked += 1
    assert checked == len(runs["n"])


def test_end_params_of_a_float32_run_with_bias_round_trip_exactly():
    rng = np.random.default_rng(0)
    params = {
        "w": rng.standard_normal((3, 4, 2)).astype(np.float32),
        "a": rng.standard_normal((3, 4)).astype(np.float32),
        "b": rng.standard_normal((3, 4)).astype(np.float32),
    }
    ds = xr.Dataset(end_state.end_vars(params), coords={"run": [7, 8, 9]})
    back = end_state.end_params(ds, runs=[9, 7])
    assert set(back) == {"w", "a", "b"}
    for k in params:
        assert back[k].dtype == np.float64
        np.testing.assert_array_equal(back[k], params[k][[2, 0]])  # float32 -> 64 is exact


def test_a_stored_run_continues_exactly_as_the_trained_one(micro_reference):
    """``benchmarks.stored.ended_state`` rebuilds a finished chunk's runs from its file: the
    same parameters, time, step and loss as the state the verdict loop ended with, and, given
    the same sharpness probe (not stored: the power iteration's warm start), the same
    continuation to the last bit (one compiled program, float64, plain GD)."""
    from alignment.runner import results
    from alignment.two_layer import verdict_loop
    from benchmarks import stored

    _, _, path = micro_reference
    cfg = micro_config()
    runs = grid.expand(cfg)
    chunk = registry.check_config(cfg)[0]  # n = 4: both runs stuck at t = 500
    ds = results.load_chunk(path, chunk.index)
    *_, ctx, trained, _, _ = verdict_loop.train_chunk(cfg, runs, chunk)
    state, _ = stored.ended_state(runs, chunk, ds)
    for name in ("time", "step", "loss"):
        np.testing.assert_array_equal(np.asarray(getattr(state, name)), getattr(trained, name))
    for k, v in trained.params.items():
        np.testing.assert_array_equal(np.asarray(state.params[k]), v)
    trained = train.switch_integrator(chunk.program, trained._replace(probe=state.probe), ctx)
    times = np.geomspace(500.0, 1000.0, 5)
    _, ours = train.train(chunk.program, state, ctx, times)
    _, theirs = train.train(chunk.program, trained, ctx, times)
    np.testing.assert_array_equal(np.asarray(ours["loss"]), np.asarray(theirs["loss"]))


def test_in_float64_carries_float32_leaves_over_exactly_and_leaves_the_rest():
    from benchmarks import stored

    x32 = np.float32([1.1, -3.7e-8, 6.5e4])
    up = stored.in_float64({"x": x32, "step": np.int64([3]), "ok": np.bool_([True])})
    assert up["x"].dtype == np.float64 and np.all(up["x"].astype(np.float32) == x32)
    assert up["step"].dtype == np.int64 and up["ok"].dtype == np.bool_
