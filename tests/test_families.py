"""A family defined here, outside the library, trains through the real trainer (sharded and
unsharded) and matches closed forms: nothing in train.py knows which family it runs."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignment.engine import integrate, train


@dataclasses.dataclass(frozen=True)
class Linear:
    """Least squares L(w) = (1/2n) |X w - y|^2 on n Gaussian samples, y = X w* (+ sphere)."""

    d: int = 3
    n: int = 7
    on_sphere: bool = False  # constrain w to the unit sphere after every step

    name = "linear_toy"

    @property
    def constrained(self):
        return self.on_sphere

    lane_axes = ("scale",)
    summary_columns = ("w_err",)
    per_neuron_keys = ()

    def validate(self):
        if self.d < 1:
            raise ValueError(f"d={self.d} must be >= 1")

    def check_lanes(self, lanes):
        integrate.check_positive(lanes, ("scale",))

    def data(self, key, dtype):
        kx, kw = jax.random.split(key)
        x = jax.random.normal(kx, (self.n, self.d), jnp.float64).astype(dtype)
        w_star = jax.random.normal(kw, (self.d,), jnp.float64).astype(dtype)
        return x, x @ w_star, w_star

    def initialize(self, key, lane, dtype):
        x, y, w_star = self.data(key, dtype)
        w0 = lane["scale"].astype(dtype) * jnp.ones((self.d,), dtype)
        if self.on_sphere:
            w0 = w0 / jnp.linalg.norm(w0)
        return {"w": w0}, {"x": x, "y": y, "w_star": w_star}

    def loss_and_grad(self, params, ctx):
        r = ctx["x"] @ params["w"] - ctx["y"]
        return 0.5 * jnp.mean(r * r), {"w": ctx["x"].T @ r / self.n}

    def constrain(self, params, ctx):
        if not self.on_sphere:
            return params
        return {"w": params["w"] / jnp.linalg.norm(params["w"])}

    def snapshot(self, params, ctx):
        loss, _ = self.loss_and_grad(params, ctx)
        return {
            "loss": loss,
            "w_err": jnp.linalg.norm(params["w"] - ctx["w_star"]),
            "w_norm": jnp.linalg.norm(params["w"]),
        }

    def outputs(self, ctx):
        return {"w_star": (("run", "coord"), np.asarray(ctx["w_star"]))}

    def event_times(self, snaps):
        return {}

    def describe(self):
        return f"d={self.d} n={self.n}"

    def certify(self, params, ctx, runs, kappa_tol=None):
        return {}

    def lane_bytes(self, dtype):
        return None

    def cost(self):
        return float(self.n * self.d)


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
