"""The vectorized trainer against independent computations and against theory."""

import dataclasses
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from alignment import registry as sweep
from alignment.engine import integrate
from alignment.engine import train as trainer
from alignment.two_layer import config, data, model, stats
from alignment.two_layer.data import DataSpec
from alignment.two_layer.family import TwoLayer


def two_layer(dtype="float32", optimizer="gd", **family) -> trainer.Program:
    """A two_layer program trained by optax's ``optimizer``."""
    return trainer.Program(TwoLayer(**family), integrate.GD(optimizer), dtype)


def _run(prog, times, **lanes):
    lanes = trainer.Lanes.make(**lanes)
    state, ctx = trainer.init_runs(prog, lanes)
    state, snaps = trainer.train(prog, state, ctx, times)
    return state, ctx, jax.device_get(snaps)


def test_gradient_matches_central_differences():
    key = jax.random.key(0)
    train, _, _ = data.make_data(key, DataSpec("linear", d=3), 7, 10, 0.3, 4, jnp.float64)
    params = model.init_params(key, 3, 6, 1.0, "unbalanced", bias=True, dtype=jnp.float64)

    def f(p):
        return model.loss(p, train.x_NxD, train.y_N, train.mask_N, train.n)

    grads = jax.grad(f)(params)
    h = 1e-6
    for name, value in params.items():
        flat = np.asarray(value).ravel()
        for i in range(flat.size):
            e = np.zeros_like(flat)
            e[i] = h
            up = dict(params, **{name: jnp.asarray((flat + e).reshape(value.shape))})
            dn = dict(params, **{name: jnp.asarray((flat - e).reshape(value.shape))})
            fd = (f(up) - f(dn)) / (2 * h)
            # central differences: O(h^2) truncation + O(eps/h) = 1e-10 rounding; the loss is
            # piecewise quadratic and no preactivation lies within h of a kink here.
            np.testing.assert_allclose(np.ravel(grads[name])[i], fd, rtol=1e-6, atol=1e-9)


PROG64 = two_layer(data=DataSpec("linear", d=4), m=12, n_pad=24, n_test=30, dtype="float64")
GRID = dict(
    seed=[0, 1, 2, 3],
    n=[9, 17, 24, 13],
    lam=[0.5, 0.1, 1.0, 0.3],
    lr=[0.05, 0.1, 0.02, 0.07],
    sigma=[0.1, 0.0, 0.3, 0.2],
)
TIMES = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
_GRAD = jax.jit(jax.grad(model.loss))  # the plain loop's step: one compile per sample count


@pytest.fixture(scope="module")
def grid_run():
    return _run(PROG64, TIMES, **GRID)


@pytest.mark.parametrize("opt_name", ["gd", "momentum", "adam"])
def test_vmapped_grid_equals_plain_loop(opt_name, grid_run):
    prog = dataclasses.replace(PROG64, integrator=integrate.GD(opt_name))
    _, _, snaps = grid_run if opt_name == "gd" else _run(prog, TIMES, **GRID)
    for r in range(4):
        key = jax.random.key(GRID["seed"][r])
        n, lr = GRID["n"][r], GRID["lr"][r]
        train, _, _ = data.make_data(
            jax.random.fold_in(key, 0), prog.family.data, n, n, GRID["sigma"][r], 30, jnp.float64
        )
        p = model.init_params(
            jax.random.fold_in(key, 1), 4, 12, GRID["lam"][r], "balanced", dtype=jnp.float64
        )
        opt = {
            "gd": optax.sgd(lr),
            "momentum": optax.sgd(lr, momentum=0.9),
            "adam": optax.adam(lr),
        }[opt_name]
        opt_state = opt.init(p)
        steps_done = 0
        for k, t in enumerate(TIMES):
            for _ in range(int(round(t / lr)) - steps_done):
                g = _GRAD(p, train.x_NxD, train.y_N, train.mask_N, n)
                upd, opt_state = opt.update(g, opt_state, p)
                p = optax.apply_updates(p, upd)
            steps_done = int(round(t / lr))
            loss = model.loss(p, train.x_NxD, train.y_N, train.mask_N, n)
            # same float64 operations up to summation order over the padding: ~1e-15 relative
            np.testing.assert_allclose(snaps["loss"][r, k], loss, rtol=1e-10)
            np.testing.assert_allclose(snaps["neuron_w"][r, k], p["w"], rtol=1e-9, atol=1e-14)
            np.testing.assert_allclose(snaps["time"][r, k], steps_done * lr, rtol=1e-12)


def test_a_lane_stops_at_the_first_snapshot_below_its_stop_loss(grid_run):
    _, _, full = grid_run
    # lanes 0 and 3 stop at t = 2 (their loss there is below the geometric mean of their
    # losses at t = 1 and t = 2), lane 1 at t = 0 (stop above any loss), lane 2 never
    mid = np.sqrt(full["loss"][:, 2] * full["loss"][:, 3])
    stop_R = np.array([mid[0], np.inf, -np.inf, mid[3]])
    state, ctx = trainer.init_runs(PROG64, trainer.Lanes.make(**GRID))
    _, snaps = jax.device_get(trainer.train(PROG64, state, ctx, TIMES, stop_below=stop_R))
    for r, k in enumerate([3, 0, len(TIMES) - 1, 3]):
        assert np.flatnonzero(full["loss"][r] < stop_R[r])[:1].tolist() == ([k] if r != 2 else [])
        for key in ("step", "time", "loss", "neuron_w"):
            # the same compiled program and arithmetic up to the stop: equal bit for bit;
            # after it, the snapshot where the lane stopped, repeated
            np.testing.assert_array_equal(snaps[key][r, : k + 1], full[key][r, : k + 1])
            for j in range(k + 1, len(TIMES)):
                np.testing.assert_array_equal(snaps[key][r, j], full[key][r, k])
    assert snaps["step"][1, -1] == 0


def test_a_lane_stops_at_its_step_limit(grid_run):
    _, _, full = grid_run
    # lane 0 may take the steps it had at t = 1, lane 1 those at t = 2 plus 3 (between
    # snapshots), lane 2 none, lane 3 any number
    limit_R = full["step"][:, 2].astype(np.int64) + np.array([0, 0, 0, 10**9])
    limit_R[1] = full["step"][1, 3] + 3
    limit_R[2] = 0
    state, ctx = trainer.init_runs(PROG64, trainer.Lanes.make(**GRID))
    _, snaps = jax.device_get(trainer.train(PROG64, state, ctx, TIMES, step_limit=limit_R))
    ends = [limit_R[0], limit_R[1], 0, full["step"][3, -1]]
    np.testing.assert_array_equal(snaps["step"][:, -1], ends)
    for key in ("time", "loss", "neuron_w"):  # up to the limit the same program: bit for bit
        np.testing.assert_array_equal(snaps[key][0, 2:], np.repeat(full[key][0, 2:3], 3, 0))
        np.testing.assert_array_equal(snaps[key][1, :4], full[key][1, :4])
        np.testing.assert_array_equal(snaps[key][3], full[key][3])
    # lane 1 stopped 3 steps past t = 2 (lr = 0.1): its time says where, repeated after
    np.testing.assert_allclose(snaps["time"][1, 4], 2.0 + 3 * GRID["lr"][1], rtol=1e-12)
    assert snaps["time"][2, -1] == 0


def test_padding_does_not_change_the_run(grid_run):
    _, _, padded = grid_run
    for r in (0, 3):  # n = 9 and 13, padded to 24 in the grid
        n = GRID["n"][r]
        prog = dataclasses.replace(PROG64, family=dataclasses.replace(PROG64.family, n_pad=n))
        _, _, exact = _run(prog, TIMES, **{k: [v[r]] for k, v in GRID.items()})
        # identical samples (prefix property), only zero rows added: float64 rounding only
        np.testing.assert_allclose(padded["loss"][r], exact["loss"][0], rtol=1e-10)
        np.testing.assert_allclose(padded["neuron_w"][r], exact["neuron_w"][0], atol=1e-12)


_IN_CHILD = os.environ.get("ALIGNMENT_TEST_CHILD") == "1"


@pytest.mark.skipif(not _IN_CHILD, reason="runs in a child process of the test below")
@pytest.mark.parametrize("block", [1, 3])
def test_blocks_equal_child(block, grid_run):
    """4 lanes run at most ``block`` at a time (lax.map over vmapped blocks; 3: two equal blocks
    of 2, ``sharding.even_block``) equal the one-vmap run: the same per-lane float64
    operations, so only rounding of the batched matmuls differs (~1e-15)."""
    _, _, whole = grid_run
    prog = dataclasses.replace(PROG64, lane_batch=block)
    _, _, blocked = _run(prog, TIMES, **GRID)
    for k in ("loss", "neuron_w", "time", "sharpness"):
        np.testing.assert_allclose(blocked[k], whole[k], rtol=1e-10, atol=1e-14)


def test_lanes_in_cache_blocks_equal_one_vmap():
    """The blocked-lanes check above, in its own process: compiled in the full suite's process,
    these programs made XLA:CPU segfault compiling a later, unrelated test (seen twice; the
    check passes alone), so they are kept out of it."""
    env = {**os.environ, "ALIGNMENT_TEST_CHILD": "1"}
    test_id = f"{__file__}::test_blocks_equal_child"
    cmd = [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", test_id]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout, done.stdout[-2000:]


def test_even_block_divides_the_lanes():
    """Blocks are equal (no remainder program): the largest divisor of the lanes <= block."""
    from alignment.engine import sharding

    assert [sharding.even_block(40, b) for b in (0, 5, 6, 32, 40, 64)] == [40, 5, 5, 20, 40, 40]
    assert [sharding.even_block(24, 5), sharding.even_block(7, 3), sharding.even_block(2, 1)] == [
        4,
        1,
        1,
    ]


def test_lanes_at_once_follows_the_cache():
    """On a CPU, lanes per block = L2 // (WORKING_SET x per-lane bytes), at most MAX_BLOCK,
    while a lane fits L2, else last-level cache // per-lane bytes (at least 1, at most
    MAX_BLOCK); an explicit
    value wins; a family that states no per-lane size runs as one vmap."""
    from alignment.engine import sharding

    l2, llc, ws = sharding.cache_bytes(2), sharding.cache_bytes(3), sharding.WORKING_SET
    assert l2 <= llc and sharding.MAX_BLOCK >= 4
    assert sharding.lanes_at_once(None, l2 // (4 * ws)) == 4
    assert sharding.lanes_at_once(None, 1) == sharding.MAX_BLOCK
    assert sharding.lanes_at_once(None, l2 // ws) == 1
    want = min(max(1, llc // (l2 // ws + 1)), sharding.MAX_BLOCK)
    assert sharding.lanes_at_once(None, l2 // ws + 1) == want
    big = llc // (4 * sharding.MAX_BLOCK)  # too large for L2, 4 x MAX_BLOCK fit the LLC
    if big > l2 // ws:
        assert sharding.lanes_at_once(None, big) == sharding.MAX_BLOCK
    assert sharding.lanes_at_once(None, llc // 4) == 4
    assert sharding.lanes_at_once(None, 2 * llc) == 1
    assert sharding.lanes_at_once(None, None) == 0
    assert sharding.lanes_at_once(7, llc) == 7
    with pytest.raises(ValueError, match="lane_batch=-1"):
        dataclasses.replace(PROG64, lane_batch=-1).validate()


def test_balancedness_drift_is_order_lr():
    prog = two_layer(data=DataSpec("linear", d=3), m=10, n_pad=16, n_test=8, dtype="float64")
    lr = np.array([0.04, 0.02, 0.01])
    _, _, snaps = _run(prog, np.array([0.0, 8.0]), seed=3, n=16, lam=1.0, lr=lr, sigma=0.2)
    drift = snaps["balance_drift"][:, -1]
    # Each GD step changes a_j^2 - ||w_j||^2 by lr^2 (g_a^2 - ||g_w||^2): over t/lr steps the
    # drift is O(lr * t), so halving lr halves it. Higher orders make the ratio 2 +- O(lr).
    ratios = drift[:-1] / drift[1:]
    assert np.all(drift > 0)
    np.testing.assert_allclose(ratios, 2.0, rtol=0.1)


def test_symmetric_data_ends_at_ols():
    prog = two_layer(data=DataSpec("symmetric", d=3), m=20, n_pad=40, n_test=20, dtype="float64")
    state, ctx, snaps = _run(
        prog, trainer.time_grid(3e4, 40, 1.0), seed=[0, 1], n=40, lam=1e-4, lr=0.5, sigma=0.5
    )
    ref = np.asarray(ctx.family.ref.train_loss)
    np.testing.assert_allclose(snaps["loss"][:, -1], ref, rtol=1e-3)
    beta = np.asarray(ctx.family.ref.beta_hat)
    for r in range(2):
        w, a = snaps["neuron_w"][r, -1], snaps["neuron_a"][r, -1]
        mass = np.abs(a) * np.linalg.norm(w, axis=1)
        active = mass > 1e-3 * mass.max()  # neurons still at init scale carry ~1e-8 of the mass
        cos = (
            np.abs(w[active] @ beta[r])
            / np.linalg.norm(w[active], axis=1)
            / np.linalg.norm(beta[r])
        )
        assert active.sum() >= 2
        assert np.degrees(np.arccos(np.minimum(cos, 1.0))).max() < 1.0


def test_three_points_gets_stuck():
    prog = two_layer(
        data=DataSpec("three_points", d=1), m=20, n_pad=3, bias=True, n_test=3, dtype="float64"
    )
    _, _, snaps = _run(
        prog, trainer.time_grid(1e4, 30, 1.0), seed=[0, 1, 2], n=3, lam=1e-4, lr=0.2, sigma=0.0
    )
    # Two ReLU neurons with bias can fit 3 points exactly (min loss 0): a positive final loss
    # with a vanishing gradient and a flat last decade is a spurious stationary point.
    assert np.all(snaps["loss"][:, -1] > 0.05)
    assert np.all(snaps["grad_norm"][:, -1] < 1e-8)
    np.testing.assert_allclose(snaps["loss"][:, -1], snaps["loss"][:, -5], rtol=1e-8)


def test_float32_matches_float64():
    prog64 = two_layer(data=DataSpec("linear", d=3), m=16, n_pad=16, n_test=16, dtype="float64")
    prog32 = dataclasses.replace(prog64, dtype="float32")
    kw = dict(
        seed=[0, 1], n=16, lam=0.01, lr=0.1, sigma=0.2, times=trainer.time_grid(200.0, 12, 1.0)
    )
    times = kw.pop("times")
    _, _, s64 = _run(prog64, times, **kw)
    _, _, s32 = _run(prog32, times, **kw)
    assert s32["loss"].dtype == np.float32
    # float32 carries ~1e-7 relative error per op; through a few thousand steps of a smooth
    # (mostly contracting) flow the losses agree to ~1e-4 relative.
    np.testing.assert_allclose(s32["loss"], s64["loss"], rtol=2e-3)


def test_divergence_is_flagged_and_frozen():
    prog = two_layer(data=DataSpec("linear", d=3), m=8, n_pad=8, n_test=8)
    state, _, snaps = _run(
        prog,
        np.array([0.0, 5.0, 2500.0, 5000.0]),
        seed=[0, 0],
        n=8,
        lam=1.0,
        lr=[0.05, 50.0],
        sigma=0.1,
    )
    assert not snaps["diverged"][0, -1] and np.isinf(state.diverge_time[0])
    assert snaps["diverged"][1, -1] and 0 < state.diverge_time[1] < 2500
    assert np.all(np.isfinite(snaps["loss"]))  # frozen at the last finite parameters
    assert snaps["time"][1, -1] == snaps["time"][1, -2]  # no step after diverging


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("n", [8, 0], "n=0"),
        ("lam", -1.0, "lam=-1.0"),
        ("lr", 0.0, "lr=0.0"),
        ("sigma", float("nan"), "sigma=nan"),
        ("lr", [0.1, 0.2, 0.3], "mismatched shapes"),
    ],
)
def test_bad_lane_values_raise(field, value, match):
    kw = dict(seed=[0, 1], n=8, lam=1.0, lr=0.1, sigma=0.1) | {field: value}
    with pytest.raises(ValueError, match=match):
        PROG64.check_lanes(trainer.Lanes.make(**kw))


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("data", "cifar", "data='cifar'"),
        ("optimizer", "lbfgs", "optimizer='lbfgs'"),
        ("n", (8, -2), "n=-2"),
        ("lam", (0.0,), "lam=0.0"),
        ("lr", (-0.1,), "lr=-0.1"),
        ("dtype", "bfloat16", "dtype='bfloat16'"),
        ("m", (0,), "m=0"),
        ("init", ("orthogonal",), "init='orthogonal'"),
    ],
)
def test_bad_config_raises_before_compute(field, value, match, monkeypatch, tmp_path):
    cfg = config.get_config()
    cfg[field] = value

    def no_compile(*args):
        pytest.fail("a program was compiled before the config was checked")

    monkeypatch.setattr(trainer, "compiled", no_compile)  # what sweep.run would reach next
    with pytest.raises(ValueError, match=match):
        sweep.run(cfg, tmp_path)
    assert not (tmp_path / "config.json").exists()  # nothing written either


def test_n_beyond_padding_raises():
    lanes = trainer.Lanes.make(seed=0, n=30, lam=1.0, lr=0.1, sigma=0.1)
    with pytest.raises(ValueError, match="exceeds"):
        trainer.init_runs(PROG64, lanes)


def test_ols_reference_matches_numpy():
    train, test, _ = data.make_data(
        jax.random.key(5), DataSpec("linear", d=3), 11, 16, 0.3, 50, jnp.float64
    )
    ref = stats.ols_reference(train, test, bias=False)
    x, y = np.asarray(train.x_NxD[:11]), np.asarray(train.y_N[:11])
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    np.testing.assert_allclose(ref.beta_hat, beta, rtol=1e-10)
    np.testing.assert_allclose(ref.train_loss, 0.5 * np.mean((x @ beta - y) ** 2), rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_init_compiled_faster_changes_only_rounding(dtype, monkeypatch):
    """The init program's cheaper compile (INIT_COMPILER_OPTIONS, a CPU's LLVM level 1): the
    parameters and data bit for bit as with the default options; what is computed from them
    (sharpness probe, OLS, extremal vectors) within rounding. float32: the extremal climb's
    hundreds of steps accumulate ~30 ulp of a unit vector (3e-6 seen), under 1e-5; float64
    the same climb stays under 1e-12."""
    prog = dataclasses.replace(PROG64, dtype=dtype)
    lanes = trainer.Lanes.make(**GRID)
    fast = jax.device_get(trainer.init_runs(prog, lanes))
    monkeypatch.setattr(trainer, "INIT_COMPILER_OPTIONS", None)
    trainer.compiled.cache_clear()
    plain = jax.device_get(trainer.init_runs(prog, lanes))
    trainer.compiled.cache_clear()
    exact = (fast[0].params, fast[1].family.train, fast[1].family.test)
    for a, b in zip(
        *(
            jax.tree_util.tree_leaves(t)
            for t in (exact, (plain[0].params, plain[1].family.train, plain[1].family.test))
        ),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for a, b in zip(jax.tree_util.tree_leaves(fast), jax.tree_util.tree_leaves(plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
