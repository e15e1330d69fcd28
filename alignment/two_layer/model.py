"""Two-layer network h(x) = sum_j a_j act(<w_j, x> + b_j) and its small-scale init schemes.

The network is a Flax NNX module; training works on its split pure state (a dict
``{"w": (m, d), "a": (m,), ["b": (m,)]}``) through :func:`forward`, which the module also uses,
so the module and the hot loop cannot drift apart.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

INIT_SCHEMES = ("balanced", "unbalanced", "dominated")
ACTIVATIONS = ("relu", "gelu")

Params = dict[str, jax.Array]
DRAW_DTYPE = jnp.float64  # draws in float64 whatever the dtype: float32/64 runs start alike


def activation_fn(name: str):
    """The hidden nonlinearity by name."""
    if name == "relu":
        return jax.nn.relu
    if name == "gelu":
        return jax.nn.gelu
    raise ValueError(f"activation={name!r} is not one of {ACTIVATIONS}")


def preactivations(params: Params, x_NxD: jax.Array) -> jax.Array:
    """<w_j, x_i> + b_j for every sample and neuron, shape (n, m)."""
    z_NxM = x_NxD @ params["w"].T
    if "b" in params:
        z_NxM = z_NxM + params["b"]
    return z_NxM


def forward(params: Params, x_NxD: jax.Array, activation: str = "relu") -> jax.Array:
    """Network output h(x_i) for each row of x, shape (n,)."""
    return activation_fn(activation)(preactivations(params, x_NxD)) @ params["a"]


def neuron_vectors(params: Params) -> jax.Array:
    """(w_j, b_j) as one vector per neuron, shape (m, d) or (m, d+1) with bias."""
    if "b" in params:
        return jnp.concatenate([params["w"], params["b"][:, None]], axis=1)
    return params["w"]


def init_params(
    key: jax.Array,
    d: int,
    m: int,
    lam: float | jax.Array,
    scheme: str = "balanced",
    *,
    bias: bool = False,
    mirrored: bool = False,
    dtype=jnp.float32,
) -> Params:
    """Draws the initial parameters at scale lam, per-entry scale s = lam / sqrt(m).

    balanced:   W, b ~ N(0, s^2),  a_j = +-||(w_j, b_j)|| with a fair sign.
    unbalanced: W, b, a ~ N(0, s^2) independently.
    dominated:  W, b ~ U(-s, s),   a_j = +-s * sqrt(d_in), so |a_j| >= ||(w_j, b_j)||.
    mirrored:   neurons m/2..m copy 1..m/2 with a negated, so h == 0 at start (m must be even).
    ``lam`` may be traced (one value per vmapped run); shapes and names must be static.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init={scheme!r} is not one of {INIT_SCHEMES}")
    if mirrored and m % 2:
        raise ValueError(f"mirrored init needs an even width, got m={m}")
    m_draw = m // 2 if mirrored else m
    d_in = d + 1 if bias else d
    s = lam / jnp.sqrt(jnp.asarray(m, dtype))
    k_wb, k_a = jax.random.split(key)
    if scheme == "dominated":
        wb = jax.random.uniform(k_wb, (m_draw, d_in), DRAW_DTYPE, -1.0, 1.0).astype(dtype) * s
    else:
        wb = jax.random.normal(k_wb, (m_draw, d_in), DRAW_DTYPE).astype(dtype) * s
    if scheme == "unbalanced":
        a = jax.random.normal(k_a, (m_draw,), DRAW_DTYPE).astype(dtype) * s
    else:
        sign = jnp.where(jax.random.bernoulli(k_a, 0.5, (m_draw,)), 1.0, -1.0).astype(dtype)
        if scheme == "balanced":
            a = sign * jnp.linalg.norm(wb, axis=1)
        else:
            a = sign * s * jnp.sqrt(jnp.asarray(d_in, dtype))
    if mirrored:
        wb = jnp.concatenate([wb, wb])
        a = jnp.concatenate([a, -a])
    params = {"w": wb[:, :d], "a": a}
    if bias:
        params["b"] = wb[:, d]
    return params


class TwoLayer(nnx.Module):
    """h(x) = sum_j a_j act(<w_j, x> + b_j); no output bias."""

    def __init__(
        self,
        d: int,
        m: int,
        lam: float,
        *,
        rngs: nnx.Rngs,
        init: str = "balanced",
        bias: bool = False,
        mirrored: bool = False,
        activation: str = "relu",
        dtype=jnp.float32,
    ):
        activation_fn(activation)  # validates the name
        self.activation = activation
        p = init_params(rngs.params(), d, m, lam, init, bias=bias, mirrored=mirrored, dtype=dtype)
        self.w = nnx.Param(p["w"])
        self.a = nnx.Param(p["a"])
        self.b = nnx.Param(p["b"]) if bias else None

    def __call__(self, x_NxD: jax.Array) -> jax.Array:
        params = {"w": self.w[...], "a": self.a[...]}
        if self.b is not None:
            params["b"] = self.b[...]
        return forward(params, x_NxD, self.activation)


def pure_params(model: TwoLayer) -> Params:
    """The module's parameters as the plain dict the trainer works on (via nnx.split)."""
    _, state = nnx.split(model, nnx.Param)
    return nnx.to_pure_dict(state)


def loss(params: Params, x_NxD, y_N, mask_N, n, activation: str = "relu") -> jax.Array:
    """L = (1/2n) sum_i mask_i (h(x_i) - y_i)^2, normalized by the true sample count n."""
    r_N = (forward(params, x_NxD, activation) - y_N) * mask_N
    return 0.5 * jnp.sum(r_N * r_N) / n
