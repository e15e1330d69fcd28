"""Family ``mean_field``: large two-layer networks in the mean-field scaling (DESIGN.md section 3).

``f(x) = (1/m) sum_i a_i sigma(<w_i, x>)`` with every row ``w_i`` on the unit sphere (the
constraint: rows renormalized after every step), on Gaussian inputs ``x ~ N(0, I_d)`` with a
single-index teacher ``y = sigma(<w*, x>) + tau eps`` or pure noise ``y = tau eps``, and
``n = round(alpha m d)`` samples (alpha fixed while m varies: n is static per program).

The clock is the paper's: ``d theta / dt = -(n/d) P grad R_hat``, ``R_hat = (1/2n) sum (y - f)^2``,
P the projection of each row's gradient on the sphere's tangent space; ``loss_and_grad``
returns that vector field, so GD at step eta and the flow both run in paper time. Per run:
``tau`` (label noise), ``a0`` (all ``a_i(0) = a0``: 1 for the mean-field init, ``gamma0 sqrt(m)``
for the lazy one) and ``train_a`` (1: train both layers; 0: the frozen-a control, W only).

The test error is the closed form for Gaussian inputs (no test sample), with
``h(q) = E[sigma(G_1) sigma(G_q)]``:
``R = (tau^2 + ||phi||^2)/2 - (1/m) sum_i a_i h(<w_i, w*>) + (1/2m^2) sum_ij a_i a_j h(<w_i, w_j>)``
(``||phi||^2 = h(1)``; the phi terms dropped for pure noise).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = ("relu_centered", "hermite3", "hermite2")
TARGETS = ("single_index", "pure_noise")
STAT_KEYS = (
    "loss",
    "test_loss",
    "gap",
    "complexity",
    "gamma",
    "overlap",
    "a_overlap",
    "m_cross",
    "self_overlap",
    "max_abs_a",
)


def activation(name: str, z):
    """sigma(z): centered ReLU, or the Hermite cubic / quadratic of the paper (E sigma(G) = 0)."""
    if name == "relu_centered":
        return jax.nn.relu(z) - 1.0 / math.sqrt(2 * math.pi)
    if name == "hermite3":
        return math.sqrt(0.9) * z + (z**3 - 3 * z) / 6
    if name == "hermite2":
        return math.sqrt(0.9) * z + (z**2 - 1) / 2
    raise ValueError(f"activation={name!r} is not one of {ACTIVATIONS}")


def kernel(name: str, q):
    """h(q) = E[sigma(G_1) sigma(G_q)] for unit Gaussians of correlation q (closed forms)."""
    if name == "relu_centered":
        q = jnp.clip(q, -1.0, 1.0)
        return (jnp.sqrt(1 - q**2) + q * (jnp.pi - jnp.arccos(q))) / (2 * jnp.pi) - 1 / (2 * jnp.pi)
    if name == "hermite3":
        return 0.9 * q + q**3 / 6
    if name == "hermite2":
        return 0.9 * q + q**2 / 2
    raise ValueError(f"activation={name!r} is not one of {ACTIVATIONS}")


class Context(NamedTuple):
    """Per-run constants made once at t = 0."""

    x_NxD: jax.Array
    y_N: jax.Array
    w_star: jax.Array  # teacher direction (unit); unused for pure noise
    w0_MxD: jax.Array  # rows at t = 0 (for C_d(t, 0))
    tau: jax.Array
    train_a: jax.Array  # 1.0: a trained; 0.0: frozen-a control


def _unit_rows(key, rows: int, d: int, dtype):
    g = jax.random.normal(key, (rows, d), dtype)
    return g / jnp.linalg.norm(g, axis=-1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class MeanField:
    """Static settings of a mean-field program (hashable: part of the compile-cache key)."""

    d: int
    m: int
    n: int  # round(alpha m d)
    act: str = "hermite3"
    target: str = "single_index"

    name = "mean_field"
    constrained = True  # rows of W renormalized after every step
    lane_axes = ("tau", "a0", "train_a")
    per_neuron_keys = ()
    summary_columns = ("test_loss", "gap", "gamma", "overlap", "m_cross", "max_abs_a")

    def validate(self) -> None:
        for k in ("d", "m", "n"):
            v = getattr(self, k)
            if not isinstance(v, int | np.integer) or v < 1:
                raise ValueError(f"{k}={v!r} must be a positive integer")
        if self.act not in ACTIVATIONS:
            raise ValueError(f"activation={self.act!r} is not one of {ACTIVATIONS}")
        if self.target not in TARGETS:
            raise ValueError(f"target={self.target!r} is not one of {TARGETS}")

    def check_lanes(self, lanes) -> None:
        for k, ok, rule in (
            ("tau", lambda v: v >= 0, ">= 0"),
            ("a0", lambda v: v == v, "a number"),
            ("train_a", lambda v: (v == 0) | (v == 1), "0 or 1"),
        ):
            v = np.asarray(lanes[k], np.float64)
            bad = v[~(np.isfinite(v) & ok(v))]
            if bad.size:
                raise ValueError(f"{k}={bad[0].item()!r} must be finite and {rule}")

    def initialize(self, key, lane: dict, dtype):
        """Data, teacher and parameters of one run: rows uniform on the sphere, all a = a0."""
        kx, ke, ks, kw = jax.random.split(jax.random.fold_in(key, 0), 4)
        x_NxD = jax.random.normal(kx, (self.n, self.d), dtype)
        w_star = _unit_rows(ks, 1, self.d, dtype)[0]
        tau = lane["tau"].astype(dtype)
        y_N = tau * jax.random.normal(ke, (self.n,), dtype)
        if self.target == "single_index":
            y_N = y_N + activation(self.act, x_NxD @ w_star)
        w_MxD = _unit_rows(kw, self.m, self.d, dtype)
        params = {"a": jnp.full((self.m,), lane["a0"], dtype), "w": w_MxD}
        ctx = Context(x_NxD, y_N, w_star, w_MxD, tau, lane["train_a"].astype(dtype))
        return params, ctx

    def train_loss(self, params, ctx: Context):
        f_N = activation(self.act, ctx.x_NxD @ params["w"].T) @ params["a"] / self.m
        return 0.5 * jnp.mean((ctx.y_N - f_N) ** 2)

    def loss_and_grad(self, params, ctx: Context):
        """R_hat and the paper-time vector field (n/d) P grad R_hat (a's part zero if frozen)."""
        loss, g = jax.value_and_grad(self.train_loss)(params, ctx)
        w = params["w"]
        g_w = g["w"] - jnp.sum(g["w"] * w, axis=1, keepdims=True) * w  # tangent to the sphere
        scale = self.n / self.d
        return loss, {"a": scale * ctx.train_a * g["a"], "w": scale * g_w}

    def constrain(self, params, ctx: Context):
        del ctx
        w = params["w"]
        return {"a": params["a"], "w": w / jnp.linalg.norm(w, axis=1, keepdims=True)}

    def test_loss(self, params, ctx: Context):
        """The closed-form population error (Gaussian inputs)."""
        a_M, w_MxD, m = params["a"], params["w"], self.m
        cross = a_M @ kernel(self.act, w_MxD @ w_MxD.T) @ a_M / (2 * m**2)
        out = 0.5 * ctx.tau**2 + cross
        if self.target == "single_index":
            h1 = kernel(self.act, jnp.ones((), a_M.dtype))
            out = out + 0.5 * h1 - jnp.sum(a_M * kernel(self.act, w_MxD @ ctx.w_star)) / m
        return out

    def snapshot(self, params, ctx: Context) -> dict:
        """DESIGN section 3's statistics of one snapshot (all scalars)."""
        a_M, w_MxD, m = params["a"], params["w"], self.m
        loss, test = self.train_loss(params, ctx), self.test_loss(params, ctx)
        v_M = w_MxD @ ctx.w_star
        gram = w_MxD @ w_MxD.T
        c_o = (jnp.sum(gram) - jnp.trace(gram)) / max(m * (m - 1), 1)
        return {
            "loss": loss,
            "test_loss": test,
            "gap": test - loss,
            "complexity": jnp.mean(jnp.abs(a_M)),
            "gamma": jnp.mean(jnp.abs(a_M)) / math.sqrt(m),
            "overlap": jnp.mean(v_M),
            "a_overlap": jnp.mean(a_M * v_M),
            "m_cross": m * c_o,
            "self_overlap": jnp.mean(jnp.sum(w_MxD * ctx.w0_MxD, axis=1)),
            "max_abs_a": jnp.max(jnp.abs(a_M)),
        }

    # ---- host side ----

    def describe(self) -> str:
        return f"mean_field d={self.d} m={self.m} n={self.n} {self.act} {self.target}"

    def certify(self, params, ctx, runs, kappa_tol=None) -> dict:
        """No end-state certificates: its runs have no verdicts beyond finished/diverged."""
        return {}

    def lane_bytes(self, dtype) -> None:
        return None  # the trainer runs all lanes of a call in one block

    def cost(self) -> float:
        return float(self.n * self.m * self.d)

    def outputs(self, ctx: Context) -> dict:
        return {"w_star": (("run", "coord_in"), np.asarray(ctx.w_star, np.float64))}

    def event_times(self, snaps: dict) -> dict:
        del snaps
        return {}
