"""A family defined here, outside the library, trains through the real trainer (sharded and
unsharded) and matches closed forms: nothing in train.py knows which family it runs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from toys import Linear

from alignment.engine import integrate, train

LANES = train.Lanes.make(seed=[0, 1, 2], scale=[0.5, 1.0, 2.0], lr=[0.05, 0.1, 0.2])
TIMES = np.array([0.0, 1.0, 2.0, 5.0])


def _closed_form(family, r):
    """GD on a quadratic: w_k - w* = (I - lr H)^k (w_0 - w*), H = X^T X / n (float64)."""
    x, y, w_star = (np.asarray(v) for v in family.data(jax.random.key(r), jnp.float64))
    lr, w = LANES.lr[r], LANES.scale[r] * np.ones(family.d)
    step = np.eye(family.d) - lr * x.T @ x / family.n
    out = []
    for t in TIMES:
        k = int(round(t / lr))
        out.append(
            0.5 * np.mean((x @ (w_star + np.linalg.matrix_power(step, k) @ (w - w_star)) - y) ** 2)
        )
    return np.array(out)


@pytest.fixture(scope="module", params=[False, True], ids=["unsharded", "sharded"])
def toy_run(request):
    prog = train.Program(Linear(), integrate.GD(), "float64")
    state, ctx = train.init_runs(prog, LANES, shard=request.param)
    state, snaps = train.train(prog, state, ctx, TIMES, shard=request.param)
    return jax.device_get((state, snaps))


def test_toy_family_matches_the_closed_form(toy_run):
    state, snaps = toy_run
    for r in range(3):
        # the same float64 recursion in another order: agreement to ~1e-13 relative
        np.testing.assert_allclose(
            snaps["loss"][r], _closed_form(Linear(), r), rtol=1e-9, atol=1e-14
        )
    np.testing.assert_allclose(snaps["time"][:, -1], TIMES[-1], rtol=1e-12)
    np.testing.assert_array_equal(state.step, np.rint(TIMES[-1] / LANES.lr))


def test_toy_family_constraint_is_applied_after_every_step():
    prog = train.Program(Linear(on_sphere=True), integrate.GD(), "float32")
    state, ctx = train.init_runs(prog, LANES, shard=False)
    _, snaps = train.train(prog, state, ctx, TIMES, shard=False)
    # float32 normalization: |w| = 1 to a few ulps (1.2e-7 each)
    np.testing.assert_allclose(np.asarray(snaps["w_norm"]), 1.0, atol=1e-6)
    assert np.all(np.diff(np.asarray(snaps["loss"]), axis=1) <= 1e-6)  # descent on the sphere
