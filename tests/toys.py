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
