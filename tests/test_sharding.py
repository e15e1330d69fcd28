"""The run axis sharded over 4 emulated CPU devices equals the single-device program."""

import jax
import numpy as np
import pytest

from alignment.engine import compile_cache, gather, integrate, sharding
from alignment.engine import train as trainer
from alignment.two_layer.data import DataSpec
from alignment.two_layer.family import TwoLayer

# The program and snapshot count of tests/test_train.py, so that the sharded compile is shared.
PROG = trainer.Program(
    TwoLayer(data=DataSpec("linear", d=4), m=12, n_pad=24, n_test=30), integrate.GD(), "float64"
)
TIMES = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
LATER = TIMES + 4.0
LANES = trainer.Lanes.make(
    seed=[0, 1, 2], n=[9, 17, 24], lam=[0.5, 0.1, 1.0], lr=[0.05, 0.1, 0.02], sigma=[0.1, 0.0, 0.3]
)  # 3 runs: padded to 8 on 4 devices (2 per device)
LIVE = np.array([0, 2])  # runs that continue; run 1 leaves (as a decided run does)


def test_padded_count():
    assert [sharding.padded_count(r, 4) for r in (1, 3, 8, 9)] == [8, 8, 8, 12]
    assert [sharding.padded_count(r, 1) for r in (1, 2, 7)] == [2, 2, 7]  # never a lone lane


def test_default_mesh(monkeypatch):
    assert jax.local_device_count() == 4, "conftest should emulate 4 CPU devices"
    assert sharding.default_mesh(False) is None
    mesh = sharding.default_mesh()
    assert mesh.axis_names == (sharding.AXIS,) and mesh.size == 4
    monkeypatch.setenv(sharding.SHARD_ENV, "0")
    assert sharding.default_mesh() is None
    assert sharding.default_mesh(True) is mesh


def test_to_runs_pads_with_the_last_lane_and_take_runs_drops_it():
    mesh = sharding.local_mesh()
    tree = {"a": np.arange(5.0), "b": np.arange(10).reshape(5, 2)}
    placed = sharding.to_runs(tree, mesh)
    assert placed["a"].shape == (8,) and placed["b"].shape == (8, 2)
    assert placed["a"].sharding.spec == sharding.run_sharding(mesh).spec
    assert len(placed["b"].sharding.device_set) == 4
    np.testing.assert_array_equal(placed["a"], [0, 1, 2, 3, 4, 4, 4, 4])
    np.testing.assert_array_equal(placed["b"][5:], [[8, 9]] * 3)
    back = jax.device_get(sharding.take_runs(placed, 5))
    np.testing.assert_array_equal(back["b"], tree["b"])
    with pytest.raises(ValueError, match="disagree"):
        sharding.num_runs({"a": np.zeros(3), "b": np.zeros(4)})


def _run(shard):
    state, ctx = trainer.init_runs(PROG, LANES, shard=shard)
    state, snaps = trainer.train(PROG, state, ctx, TIMES, shard=shard)
    sub = gather.take(state, LIVE)
    sub, later = trainer.train(PROG, sub, gather.take(ctx, LIVE), LATER, shard=shard)
    state = gather.put(state, LIVE, sub)
    return jax.device_get((state, ctx, snaps, later))


@pytest.fixture(scope="module")
def both():
    return _run(False), _run(True)


def test_sharded_equals_unsharded(both):
    plain, sharded = both
    leaves_p, tree_p = jax.tree_util.tree_flatten(plain)
    leaves_s, tree_s = jax.tree_util.tree_flatten(sharded)
    assert tree_p == tree_s
    for p, s in zip(leaves_p, leaves_s, strict=True):
        p, s = np.asarray(p), np.asarray(s)
        assert p.shape == s.shape and p.shape[0] in (len(LANES), len(LIVE))  # pads dropped
        if p.dtype.kind == "f":  # float64: equal up to a few roundings
            np.testing.assert_allclose(s, p, rtol=1e-9, atol=1e-12)
        else:
            np.testing.assert_array_equal(s, p)


def test_lanes_that_leave_keep_their_state(both):
    _, (state, _, snaps, later) = both
    steps = np.rint(LATER[-1] / LANES.lr).astype(int)
    left_at = np.rint(TIMES[-1] / LANES.lr[1]).astype(int)
    np.testing.assert_array_equal(state.step, np.where(np.isin([0, 1, 2], LIVE), steps, left_at))
    assert later["time"].shape == (len(LIVE), len(LATER))
    np.testing.assert_allclose(later["time"][:, -1], LATER[-1], rtol=1e-12)
    np.testing.assert_allclose(state.time[1], snaps["time"][1, -1], rtol=0)


def test_sharded_state_is_donated_and_stays_sharded():
    lanes = trainer.Lanes.make(seed=range(8), n=12, lam=0.5, lr=0.1, sigma=0.1)
    state, ctx = trainer.init_runs(PROG, lanes)  # default: sharded on 4 devices, no padding
    leaf = jax.tree_util.tree_leaves(state)[0]
    assert len(leaf.sharding.device_set) == 4
    new_state, _ = trainer.train(PROG, state, ctx, TIMES)
    assert all(x.is_deleted() for x in jax.tree_util.tree_leaves(state))
    new_leaf = jax.tree_util.tree_leaves(new_state)[0]
    assert new_leaf.sharding.spec == sharding.run_sharding(sharding.local_mesh()).spec


def test_the_compilation_cache_is_on_by_default_and_can_be_moved_or_switched_off(monkeypatch):
    for var in ("ALIGNMENT_COMPILATION_CACHE", "JAX_COMPILATION_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/tmp/xdg")
    assert compile_cache.cache_dir() == "/tmp/xdg/alignment/jax"  # the per-user default (Linux)
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "/tmp/jaxcache")
    assert compile_cache.cache_dir() == "/tmp/jaxcache"  # JAX's own variable
    monkeypatch.setenv("ALIGNMENT_COMPILATION_CACHE", "/tmp/ours")
    assert compile_cache.cache_dir() == "/tmp/ours"
    assert compile_cache.cache_dir("/tmp/flag") == "/tmp/flag"  # the flag first
    monkeypatch.setenv("ALIGNMENT_COMPILATION_CACHE", "off")
    assert compile_cache.cache_dir() is None
    assert compile_cache.cache_dir("OFF") is None and compile_cache.cache_dir("") is None


def test_idle_lanes_take_no_step_and_put_writes_back_only_live_ones():
    """A continuation call (grid.call_layout): live lanes step exactly as in a call where every
    lane steps (same program, same shapes: bit for bit), an idle copy of a live lane takes no
    step, and put writes back the live lanes only, even where an idle lane copies one."""
    state, ctx = trainer.init_runs(PROG, LANES, shard=False)
    ids, live = np.array([0, 2, 2]), np.array([True, True, False])
    sub, sub_ctx = gather.take(state, ids), gather.take(ctx, ids)
    before = jax.device_get(sub)
    got, snaps = trainer.train(PROG, sub, sub_ctx, TIMES, shard=False, active=live)
    ref, _ = trainer.train(PROG, gather.take(state, ids), sub_ctx, TIMES, shard=False)
    got, ref = jax.device_get((got, ref))
    leaves = jax.tree_util.tree_leaves
    for a, b, b0 in zip(leaves(got.params), leaves(ref.params), leaves(before.params), strict=True):
        np.testing.assert_array_equal(a[:2], b[:2])
        np.testing.assert_array_equal(a[2], b0[2])  # the idle lane did not move
    assert list(got.step[:2]) == list(ref.step[:2]) and got.step[2] == 0
    assert np.all(np.asarray(snaps["step"])[2] == 0)
    new = jax.device_get(gather.put(state, ids, got, live))
    old = jax.device_get(state)
    for n, o, g in zip(leaves(new.params), leaves(old.params), leaves(got.params), strict=True):
        np.testing.assert_array_equal(n[[0, 2]], g[:2])  # lane 2 from its live position
        np.testing.assert_array_equal(n[1], o[1])  # untouched


def test_take_and_put_on_the_host_equal_the_compiled_gathers(monkeypatch):
    """On a CPU take/put index with numpy (no compile); the compiled gathers an accelerator runs
    give the same lanes, dtypes and values, including put's idle lane that copies a live one."""
    tree = {
        "f": np.arange(10.0).reshape(5, 2),
        "i": np.arange(5, dtype=np.int64),
        "b": np.ones(5, bool),
    }
    part = {
        "f": -np.arange(6.0).reshape(3, 2),
        "i": -np.arange(3, dtype=np.int64),
        "b": np.zeros(3, bool),
    }
    ids, live = np.array([4, 1, 1]), np.array([True, True, False])
    got = {}
    for host in (True, False):
        monkeypatch.setattr(gather, "gathers_on_host", lambda host=host: host)
        got[host] = jax.device_get((gather.take(tree, ids), gather.put(tree, ids, part, live)))
    leaves = jax.tree_util.tree_leaves
    for a, b in zip(leaves(got[True]), leaves(got[False]), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    taken, put = got[True]
    np.testing.assert_array_equal(taken["f"], tree["f"][ids])
    np.testing.assert_array_equal(put["i"], [0, -1, 2, 3, 0])  # lane 1 <- part 1, lane 4 <- part 0
