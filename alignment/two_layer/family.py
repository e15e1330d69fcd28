"""Family ``two_layer``: small-init two-layer ReLU networks on a teacher (DESIGN.md section 2).

``h(x) = sum_j a_j act(<w_j, x> + b_j)`` with loss ``(1/2n) sum_i (h(x_i) - y_i)^2`` on the
first n of n_pad padded samples. Per run: seed, n, init scale lam, label noise sigma. Per-run
constants made at t = 0: the data, the OLS reference, the extremal vectors of G_n, the
balancedness a_j^2 - ||theta_j||^2 and the largest initial neuron norm. No constraint.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from alignment.two_layer import extremal, model, stats
from alignment.two_layer.data import Dataset, DataSpec, augment, make_data
from alignment.two_layer.verdict import certify

EVENT_KEYS = ("alignment_time", "escape_time", "loss_drop_time")


class Context(NamedTuple):
    """Per-run constants made once at t = 0 (not donated, read by every snapshot)."""

    train: Dataset
    test: Dataset
    beta_star: jax.Array  # teacher direction
    ref: stats.Reference  # OLS reference on the same data
    balance0_M: jax.Array  # a_j^2 - ||(w_j, b_j)||^2 at init
    extremal: extremal.Extremal  # extremal vectors of G_n on the training set (neuron space)
    norm0_max: jax.Array  # max_j ||(w_j, b_j)|| at init


def check_lane_values(lanes) -> None:
    """n a positive integer, lam > 0, sigma >= 0, all finite (ValueError naming the value)."""
    n = np.asarray(lanes["n"], np.float64)
    bad = n[~(np.isfinite(n) & (n > 0))]
    if bad.size:
        raise ValueError(f"n={bad[0].item()!r} must be finite and > 0")
    if not np.all(np.mod(n, 1) == 0):
        raise ValueError(f"n={n[np.mod(n, 1) != 0][0].item()!r} must be an integer")
    lam = np.asarray(lanes["lam"], np.float64)
    bad = lam[~(np.isfinite(lam) & (lam > 0))]
    if bad.size:
        raise ValueError(f"lam={bad[0].item()!r} must be finite and > 0")
    sigma = np.asarray(lanes["sigma"], np.float64)
    bad = sigma[~(np.isfinite(sigma) & (sigma >= 0))]
    if bad.size:
        raise ValueError(f"sigma={bad[0].item()!r} must be finite and >= 0")


@dataclasses.dataclass(frozen=True)
class TwoLayer:
    """Static settings of a two-layer program (hashable: part of the compile-cache key)."""

    data: DataSpec
    m: int  # hidden width
    n_pad: int  # padded training-set size (the bucket size)
    init: str = "balanced"  # balanced | unbalanced | dominated
    bias: bool = False  # hidden bias b_j
    mirrored: bool = False  # second half of the neurons mirrors the first with a negated
    activation: str = "relu"  # relu | gelu
    n_test: int = 1000  # fresh test samples per run
    store_neurons_max: int = 512  # record per-neuron (w_j, b_j), a_j when m <= this
    align_eps_deg: float = stats.ALIGN_EPS_DEG  # aligned: within this angle of a target
    cluster_eps_deg: float = stats.CLUSTER_EPS_DEG  # angular radius of a direction cluster
    cluster_min_mass: float = stats.CLUSTER_MIN_MASS  # active-mass share a cluster needs
    extremal_starts: int = extremal.NUM_STARTS  # random starts of the extremal-vector finder
    extremal_steps: int = extremal.NUM_STEPS  # projected gradient steps per start

    name = "two_layer"
    constrained = False  # no constraint: constrain() is the identity and is never called
    lane_axes = ("n", "lam", "sigma")
    per_neuron_keys = stats.PER_NEURON_KEYS
    summary_columns = (
        "test_loss",
        "test_excess",
        "ols_train_loss",
        "ols_test_loss",
        "ols_test_excess",
        "n_directions",
        "aligned_fraction",
        *EVENT_KEYS,
    )

    def validate(self) -> None:
        """Raises ValueError naming the bad value, before any compute."""
        self.data.validate()
        if not isinstance(self.m, int | np.integer) or self.m < 1:
            raise ValueError(f"m={self.m!r} must be a positive integer")
        if self.init not in model.INIT_SCHEMES:
            raise ValueError(f"init={self.init!r} is not one of {model.INIT_SCHEMES}")
        if self.mirrored and self.m % 2:
            raise ValueError(f"mirrored init needs an even width, got m={self.m}")
        if self.activation not in model.ACTIVATIONS:
            raise ValueError(f"activation={self.activation!r} is not one of {model.ACTIVATIONS}")
        if self.n_pad < 1 or self.n_test < 1:
            raise ValueError(f"n_pad={self.n_pad} and n_test={self.n_test} must be positive")
        if self.data.is_symmetric and (self.n_pad % 2 or self.n_test % 2):
            raise ValueError(
                f"symmetric data needs even n_pad and n_test, got {self.n_pad}, {self.n_test}"
            )
        for k in ("align_eps_deg", "cluster_eps_deg", "cluster_min_mass"):
            if not 0 <= getattr(self, k) < 180:
                raise ValueError(f"{k}={getattr(self, k)} must be in [0, 180)")

    def check_lanes(self, lanes) -> None:
        """Per-run values valid (:func:`check_lane_values`), n <= n_pad and valid for the data."""
        check_lane_values(lanes)
        n = np.asarray(lanes["n"])
        if np.max(n) > self.n_pad:
            raise ValueError(f"n={int(np.max(n))} exceeds the program's padded size {self.n_pad}")
        for v in np.unique(n):
            self.data.validate(n=int(v))
        if self.data.file is not None:
            self.data.file.check_sizes(int(np.max(n)), self.n_test)

    def initialize(self, key, lane: dict, dtype) -> tuple[model.Params, Context]:
        """One run's data, parameters and constants (vmapped over lanes)."""
        train, test, beta = make_data(
            jax.random.fold_in(key, 0),
            self.data,
            lane["n"],
            self.n_pad,
            lane["sigma"].astype(dtype),
            self.n_test,
            dtype,
        )
        params = model.init_params(
            jax.random.fold_in(key, 1),
            self.data.d,
            self.m,
            lane["lam"].astype(dtype),
            self.init,
            bias=self.bias,
            mirrored=self.mirrored,
            dtype=dtype,
        )
        ext = extremal.find_extremal(
            jax.random.fold_in(key, 2),
            augment(train.x_NxD, self.bias),
            train.y_N,
            train.mask_N,
            train.n,
            self.extremal_starts,
            self.extremal_steps,
        )
        ctx = Context(
            train,
            test,
            beta,
            stats.ols_reference(train, test, self.bias),
            stats.balancedness(params),
            ext,
            jnp.max(jnp.linalg.norm(model.neuron_vectors(params), axis=1)),
        )
        return params, ctx

    def loss_and_grad(self, params: model.Params, ctx: Context):
        return _loss_fn(self.activation, ctx.train)(params)

    def lane_bytes(self, dtype) -> int:
        """Bytes of a step's largest per-lane arrays: the m x n_pad preactivations and their
        mask (how many lanes fit a CPU's cache: ``sharding.lanes_at_once``)."""
        return 2 * self.m * self.n_pad * jnp.dtype(dtype).itemsize

    def constrain(self, params, ctx):
        del ctx
        return params

    def snapshot(self, params: model.Params, ctx: Context) -> dict[str, jax.Array]:
        return stats.snapshot_stats(
            params,
            ctx.train,
            ctx.test,
            ctx.balance0_M,
            self.activation,
            self.m <= self.store_neurons_max,
            beta_hat=ctx.ref.beta_hat,
            ext=ctx.extremal,
            norm0_max=ctx.norm0_max,
            align_eps_deg=self.align_eps_deg,
            cluster_eps_deg=self.cluster_eps_deg,
            cluster_min_mass=self.cluster_min_mass,
        )

    # ---- host side ----

    def describe(self) -> str:
        return f"d={self.data.d} m={self.m} init={self.init} bucket n_pad={self.n_pad}"

    def cost(self) -> float:
        """Relative compute of one lane-step (ETA weights): padded samples x width x dim."""
        return float(self.n_pad * self.m * (self.data.d + 1))

    # ----------------------------------------------------------------------

    def outputs(self, ctx: Context) -> dict:
        """Per-run variables of a chunk file: references and the extremal vectors at t = 0."""
        ext = ctx.extremal
        return {
            "ols_train_loss": ("run", np.asarray(ctx.ref.train_loss, np.float64)),
            "ols_test_loss": ("run", np.asarray(ctx.ref.test_loss, np.float64)),
            "ols_test_excess": ("run", np.asarray(ctx.ref.test_excess, np.float64)),
            "beta_star": (("run", "coord_in"), np.asarray(ctx.beta_star, np.float64)),
            "beta_hat": (("run", "coord_ols"), np.asarray(ctx.ref.beta_hat, np.float64)),
            "extremal_u": (("run", "extremal", "coord_nrn"), np.asarray(ext.u_ExD, np.float64)),
            "extremal_g": (("run", "extremal"), np.asarray(ext.g_E, np.float64)),
            "extremal_is_max": (("run", "extremal"), np.asarray(ext.is_max_E, bool)),
            "extremal_valid": (("run", "extremal"), np.asarray(ext.valid_E, bool)),
        }

    def certify(self, params, ctx: Context, runs, kappa_tol=None) -> dict[str, np.ndarray]:
        """End-state certificates (``certificates.py``) of the runs ``runs`` (indices into the
        host arrays ``params``, ``ctx``), float64 (R,) arrays, NaN for other runs.

        Every finite open run gets all of them: the escape test, the region QP with its kink
        test and the polish test (one QP group per (pattern, sign): 271 s for one m = 1000
        plateau run, measured before the polish test existed)."""
        del kappa_tol  # the protocol's; every test runs for every run (certify.certify_run)
        R = len(np.asarray(params["a"]))
        out = {k: np.full(R, np.nan) for k in certify.CERT_KEYS}
        theta = np.asarray(params["w"], np.float64)
        if self.bias:
            theta = np.concatenate([theta, np.asarray(params["b"], np.float64)[..., None]], -1)
        for r in np.asarray(runs, int):
            keep = np.asarray(ctx.train.mask_N[r]) > 0
            x = np.asarray(ctx.train.x_NxD[r], np.float64)[keep]
            x = np.concatenate([x, np.ones((len(x), 1))], axis=1) if self.bias else x
            y = np.asarray(ctx.train.y_N[r], np.float64)[keep]
            a = np.asarray(params["a"][r], np.float64)
            for k, v in certify.certify_run(theta[r], a, x, y).items():
                out[k][r] = v
        return out

    def event_times(self, snaps: dict) -> dict[str, np.ndarray]:
        """Alignment, escape and loss-drop times per run (``stats.event_times``)."""
        out = stats.event_times(snaps)
        return {k: np.asarray(out[k], np.float64) for k in EVENT_KEYS}


def _loss_fn(activation: str, train: Dataset):
    """(loss, grads) of one run's training loss, as ``jax.value_and_grad(model.loss)`` gives.

    For ReLU the gradient is written out (autodiff for other activations). Since
    relu(z) = 1[z > 0] z, one backward matmul P = M X with M_ji = 1[z_ji > 0] dL/dh_i gives
    every gradient: grad_w = a P, grad_b = a sum_i M, grad_a = <w, P> + b sum_i M. That saves
    the second backward matmul and the stored activations, and keeping the preactivations as
    (m, n) lets XLA:CPU run both matmuls in its fast layouts (BENCHMARKS.md: 2-3x per step).
    """
    if activation != "relu":
        loss = functools.partial(
            model.loss,
            x_NxD=train.x_NxD,
            y_N=train.y_N,
            mask_N=train.mask_N,
            n=train.n,
            activation=activation,
        )
        return jax.value_and_grad(loss)
    return functools.partial(_relu_loss_and_grad, train=train)


def _relu_loss_and_grad(params: model.Params, train: Dataset):
    x_NxD, y_N, mask_N, n = train.x_NxD, train.y_N, train.mask_N, train.n
    w_MxD, a_M = params["w"], params["a"]
    z_MxN = w_MxD @ x_NxD.T
    if "b" in params:
        z_MxN = z_MxN + params["b"][:, None]
    r_N = (a_M @ jax.nn.relu(z_MxN) - y_N) * mask_N
    on_MxN = jnp.where(z_MxN > 0, r_N * mask_N / n, 0)  # 1[z > 0] dL/dh
    p_MxD = on_MxN @ x_NxD
    grads = {"w": a_M[:, None] * p_MxD, "a": jnp.sum(w_MxD * p_MxD, axis=1)}
    if "b" in params:
        s_M = jnp.sum(on_MxN, axis=1)
        grads["b"] = a_M * s_M
        grads["a"] = grads["a"] + params["b"] * s_M
    return 0.5 * jnp.sum(r_N * r_N) / n, grads
