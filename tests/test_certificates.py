"""End-state certificates and certified verdicts against closed forms and constructed cases."""

import jax
import numpy as np
import pytest

from alignment.engine import integrate
from alignment.engine import train as trainer
from alignment.runner import chunk_loop
from alignment.two_layer import config, verdict_loop
from alignment.two_layer.data import THREE_POINTS_X, THREE_POINTS_Y, DataSpec
from alignment.two_layer.family import TwoLayer
from alignment.two_layer.verdict import certificates


def _program(data, d, m, n_pad, bias=False, dtype="float64", integ=None):
    fam = TwoLayer(data=DataSpec(data, d=d), m=m, n_pad=n_pad, bias=bias, n_test=8)
    return trainer.Program(fam, integ or integrate.GD(), dtype)


def _verdicts(prog, snaps, state, ctx, **cfg_fields):
    """(verdict, evidence) of a round's end as the verdict loop takes them (every run live)."""
    cfg = config.get_config()
    for k, v in cfg_fields.items():
        cfg[k] = v
    params, fctx = jax.device_get((state.params, ctx.family))
    live = np.ones(len(snaps["loss"]), bool)
    verdict, _, ev = verdict_loop.round_verdicts(cfg, prog.family, snaps, params, fctx, live, None)
    return verdict, ev


def _trained(prog, times, **lanes):
    lanes = trainer.Lanes.make(**lanes)
    state, ctx = trainer.init_runs(prog, lanes)
    state, snaps = trainer.train(prog, state, ctx, times)
    return state, ctx, chunk_loop.host_snapshots(snaps)


def _affine_fit_loss(x, y):
    """(1/2n) residual sum of squares of the least-squares line through (x, y)."""
    coef = np.polyfit(x, y, 1)
    return 0.5 * np.mean((np.polyval(coef, x) - y) ** 2)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_three_points_is_certified_stuck_at_the_affine_fit(dtype):
    prog = _program("three_points", 1, 20, 3, bias=True, dtype=dtype)
    times = trainer.time_grid(1e4, 30, 1.0)
    state, ctx, snaps = _trained(prog, times, seed=[0, 1, 2], n=3, lam=1e-4, lr=0.2, sigma=0.0)
    verdict, ev = _verdicts(prog, snaps, state, ctx)
    ref = _affine_fit_loss(np.array(THREE_POINTS_X), np.array(THREE_POINTS_Y))
    assert ref == pytest.approx(0.0875213675, rel=1e-9)  # the constant
    assert list(verdict) == ["stuck"] * 3
    assert list(ev["decided_by"]) == ["certified"] * 3
    # The QP is solved to ~1e-8 relative; float32 parameters put the region at ~1e-7 of it.
    np.testing.assert_allclose(ev["region_min"], ref, rtol=1e-6)
    assert np.all(ev["region_gap"] < 1e-4) and np.all(~(ev["kappa_max"] > 0))


def test_symmetric_data_is_stuck_at_ols_along_plus_minus_beta_hat():
    prog = _program("symmetric", 3, 16, 24)
    times = trainer.time_grid(2e3, 30, 1.0)
    state, ctx, snaps = _trained(prog, times, seed=[0, 1], n=24, lam=1e-3, lr=0.1, sigma=0.3)
    verdict, ev = _verdicts(prog, snaps, state, ctx)
    ols = np.asarray(ctx.family.ref.train_loss)
    assert list(verdict) == ["stuck", "stuck"]
    # nothing beats least squares on symmetric data, and the run sits at it: region min = OLS
    np.testing.assert_allclose(ev["region_min"], ols, rtol=1e-5)
    params = jax.device_get(state.params)
    beta = np.asarray(ctx.family.ref.beta_hat)
    for r in range(2):
        w, a = params["w"][r], params["a"][r]
        big = np.abs(a) * np.linalg.norm(w, axis=1) > 1e-3 * np.max(np.abs(a) * np.linalg.norm(w))
        cos = np.abs(w[big] @ beta[r]) / np.linalg.norm(w[big], axis=1) / np.linalg.norm(beta[r])
        assert big.sum() >= 2 and cos.min() > np.cos(np.radians(1.0))
        # both signs: +beta_hat carries a > 0, -beta_hat carries a < 0 (h(x) - h(-x) linear)
        assert set(np.sign(a[big] * (w[big] @ beta[r]))) == {1.0}


def test_few_points_in_high_dimension_interpolate():
    prog = _program("linear", 5, 20, 3)
    times = trainer.time_grid(2e3, 30, 1.0)
    state, ctx, snaps = _trained(prog, times, seed=[0, 1], n=3, lam=1e-3, lr=0.2, sigma=0.5)
    verdict, _ = _verdicts(prog, snaps, state, ctx)
    assert list(verdict) == ["interpolating", "interpolating"]


def test_region_minimum_matches_a_brute_force_least_squares():
    """With every neuron active on every sample the region is the whole space: the QP's
    minimum is ordinary least squares on the inputs (constraints inactive)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 3)) + np.array([0, 0, 5.0])  # all in the half-space x3 > 0
    y = rng.normal(size=12)
    theta = np.array([[0.0, 0.0, 1.0], [0.1, 0.0, 1.0]])
    out = certificates.region_minimum(theta, np.array([1.0, 1.0]), x, y)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    assert out["groups"] == 1  # same pattern and sign: one group
    np.testing.assert_allclose(out["region_min"], 0.5 * np.mean((x @ beta - y) ** 2), rtol=1e-7)


def _saddle_state():
    """three_points, m = 2: neuron 1 fits the last point exactly (active on it alone, at its
    region's minimum); neuron 2 is tiny (rho^2 = 1e-16) along the direction of largest growth
    rate kappa for the residual left on the other two points."""
    x = np.stack([np.array(THREE_POINTS_X), np.ones(3)], axis=1)
    y = np.array(THREE_POINTS_Y)
    big = np.array([1.0, -0.125 + 1e-2])  # <big, x3> = 0.01 > 0, negative on x1 and x2
    big /= np.linalg.norm(big)
    size = np.sqrt(y[2] / (big @ x[2]))  # balanced: a = |theta| = size, a <theta, x3> = y3
    resid = np.array([-y[0], -y[1], 0.0])
    starts = np.array([[np.cos(t), np.sin(t)] for t in np.linspace(0, 2 * np.pi, 64)])
    k, u = certificates.ascend_kappa(starts, np.ones(64), x, resid)
    rho = 1e-8
    theta = np.stack([big * size, u[np.argmax(k)] * rho])
    return theta, np.array([size, rho]), x, y, float(np.max(k))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_constructed_saddle_is_called_saddle_and_escapes_when_predicted(dtype):
    theta, a, x, y, kappa_best = _saddle_state()
    esc = certificates.escape_test(theta, a, x, y)
    assert esc["small_alive"] == 1 and esc["kappa_max"] == pytest.approx(kappa_best, rel=1e-6)
    prog = _program(
        "three_points", 1, 2, 3, bias=True, dtype=dtype, integ=integrate.Flow(rtol=1e-6, atol=1e-12)
    )
    lanes = trainer.Lanes.make(seed=[0], n=3, lam=1e-3, lr=0.1, sigma=0.0)
    state, ctx = trainer.init_runs(prog, lanes)
    params = {"w": theta[None, :, :1], "b": theta[None, :, 1], "a": a[None]}
    state = state._replace(params=jax.tree_util.tree_map(lambda v: v.astype(dtype), params))
    state = trainer.switch_integrator(prog, state, ctx)
    t_esc = esc["escape_time"]
    # half-way to the escape the loss is flat (rho^2 has grown to ~1e-8) and the gradient tiny:
    # stationary, yet a neuron escapes -> saddle, not stuck
    early = np.linspace(0, 0.5 * t_esc, 51)
    state, snaps = trainer.train(prog, state, ctx, early)
    verdict, ev = _verdicts(prog, chunk_loop.host_snapshots(snaps), state, ctx)
    assert list(verdict) == ["saddle"]
    assert ev["decided_by"][0] == "escape"
    # the small neuron is a group of its own, which the region minimum grows: the run's loss
    # is far above that minimum (not within gap_tol of it), so the growth is a real escape,
    # not a transient that a minimum the run has reached absorbs
    assert np.isfinite(ev["region_min"][0]) and ev["region_gap"][0] > 0.1
    later = np.linspace(0.5 * t_esc, 2 * t_esc, 301)
    state, more = trainer.train(prog, state, ctx, later)
    loss = np.asarray(more["loss"][0])
    left = later[np.argmax(loss < 0.95 * loss[0])]
    # the neuron matters once rho^2 |x| is ~5% of the residual rather than all of it, which
    # moves the time by log(0.05) / 2 kappa (~10% of the prediction); the issue asks for 30%
    assert loss.min() < 0.95 * loss[0]
    assert left == pytest.approx(t_esc, rel=0.3)


def test_a_region_qp_that_did_not_solve_certifies_nothing():
    from alignment.two_layer.verdict import verdicts

    times = np.array([0.0, 10.0, 100.0, 1000.0])
    loss = np.full((2, 4), 0.2)
    speed = np.zeros((2, 4))
    certs = {
        "region_min": np.array([0.2, 0.2]),
        "kappa_max": np.array([-1.0, -1.0]),
        "region_solved": np.array([1.0, 0.0]),
    }
    v, d = verdicts.verdicts(times, loss, speed, np.ones(2), certs=certs, details=True)
    assert list(v) == ["stuck", "undetermined"]
    assert list(d["decided_by"]) == ["certified", "qp_failed"]
