"""A toy family shared by the trainer's tests: least squares, with a closed form under GD."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from alignment.engine import integrate


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


def flow_from(x_NxD, y_N, w_MxD, a_M, times, rtol=1e-7, atol=1e-12):
    """The two-layer family's own gradient flow (float64, no bias) on the data (x, y) from the
    parameters (w, a): (loss at each of ``times``, final params as numpy arrays)."""
    from alignment.engine import train
    from alignment.runner import chunk_loop
    from alignment.two_layer.data import DataSpec, FileArrays
    from alignment.two_layer.family import TwoLayer

    n, d = x_NxD.shape
    data = FileArrays(x_NxD, y_N, x_NxD, y_N, path="constructed.npz")
    fam = TwoLayer(data=DataSpec("file", d=d, file=data), m=len(a_M), n_pad=n, n_test=n)
    prog = train.Program(fam, integrate.Flow(rtol=rtol, atol=atol), "float64")
    lanes = train.Lanes.make(seed=[0], n=n, lam=1e-3, lr=0.1, sigma=0.0)
    state, ctx = train.init_runs(prog, lanes)
    state = state._replace(params={"w": np.asarray(w_MxD)[None], "a": np.asarray(a_M)[None]})
    state = train.switch_integrator(prog, state, ctx)
    state, snaps = train.train(prog, state, ctx, np.asarray(times))
    loss = np.asarray(chunk_loop.host_snapshots(snaps)["loss"][0])
    return loss, {k: np.asarray(v)[0] for k, v in state.params.items()}
