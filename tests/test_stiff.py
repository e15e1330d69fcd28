"""The linearly implicit flow (``stiff.StiffFlow``) against closed forms and the explicit flow:
on a stiff quadratic it follows the matrix exponential with steps far beyond any explicit
integrator's stability limit; on the two-layer network, across its kinks, it follows ``Flow``."""

import jax
import numpy as np
import pytest
from toys import Linear

from alignment.engine import integrate, stiff, train
from alignment.two_layer.data import DataSpec
from alignment.two_layer.family import TwoLayer

pytestmark = pytest.mark.timeout(300)

STIFF = Linear(d=3, n=7, spread=100.0)  # Hessian eigenvalues ~1 to ~1e-4
TIMES = np.array([0.0, 1.0, 10.0, 100.0, 1e3, 1e4])


def exact_w(r, scale, times, dtype):
    """Gradient flow of run r's least squares from w0 = scale * 1 at each of ``times``:
    w* + V exp(-Lambda t) V^T (w0 - w*), on the data the family draws in ``dtype``;
    also w* and the Hessian's eigenvalues."""
    x, y, w_star = (np.asarray(v, np.float64) for v in STIFF.data(jax.random.key(r), dtype))
    lam, vec = np.linalg.eigh(x.T @ x / STIFF.n)
    c0 = vec.T @ (scale * np.ones(STIFF.d) - w_star)
    w_t = [w_star + vec @ (np.exp(-lam * t) * c0) for t in times]
    return np.array(w_t), w_star, lam


@pytest.mark.parametrize(
    "dtype,rtol,tol",
    # float64 at rtol 1e-7: ~500 steps of local error 1e-7 of O(1) weights, ~1e-6 in all;
    # float32 at rtol 1e-5: its own rounding (~1e-7 per step, a LU solve of a 3x3) stays below
    # the 1e-5 local error; ~100 steps (measured: 2e-5 of |w0 - w*| at t = 1e4)
    [("float64", 1e-7, 1e-5), ("float32", 1e-5, 2e-4)],
)
def test_stiff_flow_follows_the_matrix_exponential_with_long_steps(dtype, rtol, tol):
    prog = train.Program(STIFF, stiff.StiffFlow(rtol=rtol, atol=1e-12), dtype)
    lanes = train.Lanes.make(seed=[0, 1], scale=[0.5, 2.0])
    state, ctx = train.init_runs(prog, lanes, shard=False)
    state, snaps = jax.device_get(train.train(prog, state, ctx, TIMES, shard=False))
    for r, scale in enumerate([0.5, 2.0]):
        w_t, w_star, lam = exact_w(r, scale, TIMES, prog.jnp_dtype)
        size = np.linalg.norm(w_t[0] - w_star)
        err = np.linalg.norm(w_t - w_star, axis=1)
        np.testing.assert_allclose(snaps["w_err"][r], err, atol=tol * size)
        np.testing.assert_allclose(state.params["w"][r], w_t[-1], atol=tol * size)
        # explicit Bogacki-Shampine is stable only for dt * lambda_max < ~2.5: reaching 1e4
        # takes it >= 1e4 lambda_max / 2.5 steps (~6e3; measured 8642 and 4905). The implicit
        # steps are limited by the error alone: ~1e3 at rtol 1e-8, ~110 at 1e-5
        explicit_floor = TIMES[-1] * lam.max() / 2.5
        assert state.step[r] < explicit_floor / 4, (state.step[r], explicit_floor)
        assert state.istate["dt"][r] * lam.max() > 5  # its last proposal, past 2.5


def test_stiff_flow_keeps_the_sphere_constraint():
    prog = train.Program(Linear(on_sphere=True), stiff.StiffFlow(), "float32")
    lanes = train.Lanes.make(seed=[0, 1], scale=[0.5, 2.0])
    state, ctx = train.init_runs(prog, lanes, shard=False)
    _, snaps = train.train(prog, state, ctx, TIMES[:4], shard=False)
    np.testing.assert_allclose(np.asarray(snaps["w_norm"]), 1.0, atol=1e-6)  # a few ulps


def test_stiff_flow_follows_the_explicit_flow_across_relu_kinks():
    """Two-layer ReLU network from a small init to t = 3 (neurons turn, data points cross
    their hyperplanes, the Hessian jumps): both integrators at rtol 1e-8 agree."""
    two = TwoLayer(data=DataSpec("linear", d=3), m=8, n_pad=8, n_test=8)
    lanes = train.Lanes.make(seed=[0, 1], n=8, lam=0.5, sigma=0.3)
    ends = {}
    for integ in (integrate.Flow(rtol=1e-8, atol=1e-11), stiff.StiffFlow(rtol=1e-8, atol=1e-11)):
        prog = train.Program(two, integ, "float64")
        state, ctx = train.init_runs(prog, lanes, shard=False)
        w0 = np.asarray(state.params["w"])
        state, snaps = jax.device_get(train.train(prog, state, ctx, [0.0, 1.0, 3.0], shard=False))
        ends[integ.name] = (state.params, snaps["loss"])
    (p_flow, l_flow), (p_stiff, l_stiff) = ends["flow"], ends["stiff_flow"]
    assert np.all(l_flow[:, -1] < 0.95 * l_flow[:, 1])  # the loss moved (by 11% and 42%)
    x = np.asarray(ctx.family.train.x_NxD)  # (run, sample, coord)
    sides = [np.einsum("rnd,rmd->rnm", x, w) > 0 for w in (w0, p_flow["w"])]
    assert np.any(sides[0] != sides[1])  # data points crossed neurons' hyperplanes on the way
    # each accepts local errors of 1e-8 of the weights' scale over some hundred steps, more
    # where a step straddles a kink (its error estimate sees the jump and cuts the step)
    np.testing.assert_allclose(l_stiff, l_flow, rtol=1e-5)
    for k in p_flow:
        scale = np.max(np.abs(p_flow[k]))
        np.testing.assert_allclose(p_stiff[k], p_flow[k], atol=1e-5 * scale)
