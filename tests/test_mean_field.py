"""The mean-field family against closed forms, Monte Carlo, finite differences and symmetry."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignment.engine import integrate, train
from alignment.mean_field import family as mf

FAMILY = mf.MeanField(d=5, m=8, n=60, act="hermite3", target="single_index")


def lanes(num=2, tau=0.3, a0=1.0, train_a=1.0, **extra):
    return train.Lanes.make(seed=np.arange(num), tau=tau, a0=a0, train_a=train_a, **extra)


@pytest.mark.parametrize("act", mf.ACTIVATIONS)
@pytest.mark.parametrize("q", [-0.6, 0.0, 0.35, 0.9])
def test_kernel_matches_monte_carlo(act, q):
    rng = np.random.default_rng(0)
    g1, g2 = rng.standard_normal((2, 1_000_000))
    prod = np.asarray(
        mf.activation(act, g1) * mf.activation(act, q * g1 + math.sqrt(1 - q * q) * g2)
    )
    # 5 standard errors of the sample mean: a false failure has probability ~6e-7
    tol = 5 * prod.std() / math.sqrt(prod.size)
    assert abs(prod.mean() - float(mf.kernel(act, jnp.float64(q)))) < tol


def test_centered_relu_kernel_closed_form_values():
    h = lambda q: mf.kernel("relu_centered", q)  # noqa: E731
    assert float(h(jnp.float64(0.0))) == pytest.approx(0.0, abs=1e-15)
    assert float(jax.grad(h)(jnp.float64(0.0))) == pytest.approx(0.25, rel=1e-12)
    assert float(h(jnp.float64(1.0))) == pytest.approx(0.5 - 1 / (2 * math.pi), rel=1e-12)


@pytest.mark.parametrize("target", mf.TARGETS)
def test_closed_form_test_error_matches_fresh_samples(target):
    fam = mf.MeanField(d=5, m=8, n=40, act="relu_centered", target=target)
    key = jax.random.key(1)
    params, ctx = fam.initialize(
        key,
        {"tau": jnp.float64(0.4), "a0": jnp.float64(1.0), "train_a": jnp.float64(1.0)},
        jnp.float64,
    )
    params["a"] = jax.random.normal(jax.random.key(2), (8,), jnp.float64) * 3
    rng = np.random.default_rng(3)
    x = rng.standard_normal((400_000, 5))
    w, a, ws = (np.asarray(v) for v in (params["w"], params["a"], ctx.w_star))
    f = np.asarray(mf.activation(fam.act, x @ w.T)) @ a / fam.m
    y = 0.4 * rng.standard_normal(len(x))
    if target == "single_index":
        y = y + np.asarray(mf.activation(fam.act, x @ ws))
    err = 0.5 * (y - f) ** 2
    tol = 5 * err.std() / math.sqrt(len(err))  # 5 standard errors of the Monte Carlo mean
    assert abs(err.mean() - float(fam.test_loss(params, ctx))) < tol


def test_vector_field_is_the_projected_gradient_by_finite_differences():
    """<field, u> for a tangent direction u equals (n/d) dR_hat/de along the sphere (central
    differences in float64: O(e^2) error ~1e-10 at e = 1e-5)."""
    lane = {"tau": jnp.float64(0.3), "a0": jnp.float64(1.5), "train_a": jnp.float64(1.0)}
    params, ctx = FAMILY.initialize(jax.random.key(4), lane, jnp.float64)
    _, field = FAMILY.loss_and_grad(params, ctx)
    rng = np.random.default_rng(5)
    u = rng.standard_normal(params["w"].shape)
    w = np.asarray(params["w"])
    u -= np.sum(u * w, axis=1, keepdims=True) * w  # tangent
    ua = rng.standard_normal(params["a"].shape)

    def loss_at(e):
        moved = FAMILY.constrain({"a": params["a"] + e * ua, "w": params["w"] + e * u}, ctx)
        return float(FAMILY.train_loss(moved, ctx))

    e = 1e-5
    fd = (loss_at(e) - loss_at(-e)) / (2 * e) * FAMILY.n / FAMILY.d
    got = float(jnp.sum(field["w"] * u) + jnp.sum(field["a"] * ua))
    assert got == pytest.approx(fd, rel=1e-7)
    assert float(jnp.max(jnp.abs(jnp.sum(field["w"] * params["w"], axis=1)))) < 1e-12


@pytest.mark.parametrize("dtype,tol", [("float32", 2e-6), ("float64", 1e-13)])
@pytest.mark.parametrize("integ", [integrate.GD(), integrate.Flow(rtol=1e-4)])
def test_rows_stay_on_the_sphere_in_both_integrators(dtype, tol, integ):
    """Renormalized after every step: |w_i| = 1 to the dtype's rounding (a few ulps)."""
    prog = train.Program(FAMILY, integ, dtype)
    state, ctx = train.init_runs(prog, lanes(lr=0.05), shard=False)
    state, snaps = train.train(prog, state, ctx, [0.5, 2.0], shard=False)
    norms = np.linalg.norm(np.asarray(state.params["w"], np.float64), axis=-1)
    assert np.max(np.abs(norms - 1)) < tol
    assert np.all(np.isfinite(snaps["test_loss"]))


def test_gd_in_paper_time_approaches_the_flow_linearly_in_eta():
    flow = train.Program(FAMILY, integrate.Flow(rtol=1e-9, atol=1e-12), "float64")
    state, ctx = train.init_runs(flow, lanes(num=1), shard=False)
    ref, _ = train.train(flow, state, ctx, [1.0], shard=False)
    dist = []
    for lr in (0.02, 0.01):
        gd = train.Program(FAMILY, integrate.GD(), "float64")
        st, cx = train.init_runs(gd, lanes(num=1, lr=lr), shard=False)
        st, _ = train.train(gd, st, cx, [1.0], shard=False)
        dist.append(float(np.linalg.norm(np.asarray(st.params["w"]) - np.asarray(ref.params["w"]))))
    # first order: halving eta halves the distance (0.4-0.6 allows the O(eta^2) term)
    assert 0.4 < dist[1] / dist[0] < 0.6 and dist[1] < 1e-2


def test_symmetric_init_stays_symmetric_and_frozen_a_stays_frozen():
    prog = train.Program(FAMILY, integrate.GD(), "float64")
    state, ctx = train.init_runs(
        prog, lanes(num=2, lr=0.05, train_a=[1.0, 0.0], a0=2.0), shard=False
    )
    w = np.array(state.params["w"])
    w[:] = w[:, :1]  # every row equal to the first
    state = state._replace(params={"a": state.params["a"], "w": jnp.asarray(w)})
    state, _ = train.train(prog, state, ctx, [0.5, 1.0], shard=False)
    a, w = np.asarray(state.params["a"]), np.asarray(state.params["w"])
    np.testing.assert_allclose(w, np.broadcast_to(w[:, :1], w.shape), rtol=0, atol=1e-14)
    np.testing.assert_allclose(a[0], a[0, 0], rtol=0, atol=1e-14)
    assert abs(a[0, 0] - 2.0) > 1e-6  # trained
    np.testing.assert_array_equal(a[1], 2.0)  # frozen-a control: a never moves


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="activation='tanh'"):
        mf.MeanField(d=5, m=8, n=60, act="tanh").validate()
    with pytest.raises(ValueError, match="train_a=0.5 must be finite and 0 or 1"):
        FAMILY.check_lanes(lanes(train_a=0.5).values)
    with pytest.raises(ValueError, match="tau=-1.0"):
        FAMILY.check_lanes(lanes(tau=-1.0).values)
