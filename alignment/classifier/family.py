"""Family ``classifier``: one hidden layer with bias on labelled data (DESIGN.md section 4).

``h = act(x W^T + b)`` (tanh or ReLU, width m), then 2 logits with softmax cross-entropy, or
one output with square or logistic loss on +-1 labels. Init: PyTorch's default (every weight
and bias uniform in +-1/sqrt(fan_in)) times the lane's ``scale`` (1: the paper), or one of this
suite's small-init schemes (balanced, unbalanced, dominated) at lambda = ``scale``. The data
are a static :class:`DataBank` (hashed by content): per lane, ``data_index`` picks a training
block / test set and ``weight_index`` a row of 0/1 per-sample weights, so removal experiments
and subsets run inside one program. The loss is the
weighted mean over training points; the statistics use the weight-1 points (the misclassified
set covers every training point).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import jax
import jax.numpy as jnp
import numpy as np

from alignment.classifier import stats as class_stats
from alignment.two_layer import model

ACTS = ("tanh", "relu")
HEADS = ("softmax", "square", "logistic")
INITS = ("torch", *model.INIT_SCHEMES)


@dataclasses.dataclass(frozen=True, eq=False)
class DataBank:
    """Stacked data sets of one shape: x_train (K, n, d), y_train (K, n) in {0, 1}, x_test
    (K, T, d), y_test (K, T), x_noisy (K, T, d) (a noisy copy of the test inputs), weights
    (W, n) in {0, 1}. Equal and hashed by content (it keys the compile cache)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_noisy: np.ndarray
    weights: np.ndarray

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for k in ("x_train", "y_train", "x_test", "y_test", "x_noisy", "weights"):
            a = np.ascontiguousarray(getattr(self, k))
            h.update(f"{k}{a.shape}{a.dtype}".encode())
            h.update(a.tobytes())
        return h.hexdigest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other) -> bool:
        return isinstance(other, DataBank) and self.digest == other.digest


@dataclasses.dataclass(frozen=True)
class Classifier:
    bank: DataBank
    m: int = 20
    act: str = "tanh"
    head: str = "softmax"
    init: str = "torch"  # torch (x scale) | balanced | unbalanced | dominated (lambda = scale)

    name = "classifier"
    constrained = False
    lane_axes = ("data_index", "weight_index", "scale")
    per_neuron_keys = ()
    summary_columns = ("train_error", "test_error", "R_0", "R_1", "D")

    @property
    def n(self) -> int:
        return self.bank.x_train.shape[1]

    def validate(self) -> None:
        if not isinstance(self.m, int) or self.m < 1:
            raise ValueError(f"m={self.m!r} must be an integer >= 1")
        if self.act not in ACTS:
            raise ValueError(f"activation={self.act!r} is not one of {ACTS}")
        if self.head not in HEADS:
            raise ValueError(f"head={self.head!r} is not one of {HEADS}")
        if self.init not in INITS:
            raise ValueError(f"init={self.init!r} is not one of {INITS}")

    def check_lanes(self, lanes) -> None:
        for k, top in (
            ("data_index", len(self.bank.x_train)),
            ("weight_index", len(self.bank.weights)),
        ):
            v = np.asarray(lanes[k])
            if np.any((v < 0) | (v >= top) | (np.mod(v, 1) != 0)):
                raise ValueError(f"{k} values must be integers in [0, {top})")
        if not np.all(np.asarray(lanes["scale"]) > 0):
            raise ValueError("scale (init multiplier) must be > 0")

    def init_params(self, key, scale, dtype) -> dict:
        """torch: PyTorch's default (uniform +-1/sqrt(fan_in), biases too) times ``scale``;
        else this suite's scheme at lambda = scale (model.init_params, bias on, output bias 0)
        with each neuron's output a_j as v[:, j] = (a_j) or (a_j, -a_j)/sqrt(2) (softmax), so
        |v[:, j]| = |a_j| and the balance |v_j|^2 - |(w_j, b_j)|^2 is the scheme's."""
        d, outs = self.bank.x_train.shape[2], 2 if self.head == "softmax" else 1
        keys = jax.random.split(jax.random.fold_in(key, 1), 4)
        if self.init != "torch":
            lam = jnp.asarray(scale).astype(dtype)
            p = model.init_params(keys[0], d, self.m, lam, self.init, bias=True, dtype=dtype)
            v = p["a"][None] if outs == 1 else jnp.stack([p["a"], -p["a"]]) / math.sqrt(2.0)
            return {"w": p["w"], "b": p["b"], "v": v, "c": jnp.zeros((outs,), dtype)}

        def uniform(k, shape, fan_in):
            bound = scale / math.sqrt(fan_in)
            return (jax.random.uniform(k, shape, jnp.float64, -1, 1) * bound).astype(dtype)

        return {
            "w": uniform(keys[0], (self.m, d), d),
            "b": uniform(keys[1], (self.m,), d),
            "v": uniform(keys[2], (outs, self.m), self.m),
            "c": uniform(keys[3], (outs,), self.m),
        }

    def initialize(self, key, lane: dict, dtype):
        params = self.init_params(key, lane["scale"], dtype)
        i = lane["data_index"]
        bank = self.bank
        ctx = {
            "x": jnp.asarray(bank.x_train, dtype)[i],
            "y": jnp.asarray(bank.y_train)[i],
            "xt": jnp.asarray(bank.x_test, dtype)[i],
            "yt": jnp.asarray(bank.y_test)[i],
            "xn": jnp.asarray(bank.x_noisy, dtype)[i],
            "w8": jnp.asarray(bank.weights, dtype)[lane["weight_index"]],
        }
        return params, ctx

    def hidden(self, params, x_NxD):
        z = x_NxD @ params["w"].T + params["b"]
        return jnp.tanh(z) if self.act == "tanh" else jax.nn.relu(z)

    def forward(self, params, x_NxD):
        """Logits (N, 2) for softmax, else the scalar output (N,)."""
        out = self.hidden(params, x_NxD) @ params["v"].T + params["c"]
        return out if self.head == "softmax" else out[:, 0]

    def per_sample_loss(self, params, x_NxD, y_N):
        out = self.forward(params, x_NxD)
        if self.head == "softmax":
            return -jnp.take_along_axis(jax.nn.log_softmax(out), y_N[:, None], axis=1)[:, 0]
        s = 2.0 * y_N - 1.0
        return 0.5 * (out - s) ** 2 if self.head == "square" else jax.nn.softplus(-s * out)

    def train_loss(self, params, ctx):
        w = ctx["w8"]
        return jnp.sum(w * self.per_sample_loss(params, ctx["x"], ctx["y"])) / jnp.sum(w)

    def loss_and_grad(self, params, ctx):
        return jax.value_and_grad(self.train_loss)(params, ctx)

    def constrain(self, params, ctx):
        del ctx
        return params

    def predict(self, params, x_NxD):
        out = self.forward(params, x_NxD)
        return jnp.argmax(out, axis=1) if self.head == "softmax" else (out > 0).astype(jnp.int32)

    def snapshot(self, params, ctx) -> dict:
        """Loss, train/test errors (also on the noisy test inputs), the class geometry of the
        hidden layer, the norms of the two layers (hidden with bias, output with bias) and the
        bit-packed misclassified training set."""
        miss_N = self.predict(params, ctx["x"]) != ctx["y"]
        w = ctx["w8"]
        geo = class_stats.class_geometry(self.hidden(params, ctx["x"]), ctx["y"], w)
        return {
            "loss": self.train_loss(params, ctx),
            "train_error": jnp.sum(w * miss_N) / jnp.sum(w),
            "test_error": jnp.mean(self.predict(params, ctx["xt"]) != ctx["yt"]),
            "noisy_test_error": jnp.mean(self.predict(params, ctx["xn"]) != ctx["yt"]),
            **geo,
            "w_norm": jnp.sqrt(jnp.sum(params["w"] ** 2) + jnp.sum(params["b"] ** 2)),
            "v_norm": jnp.sqrt(jnp.sum(params["v"] ** 2) + jnp.sum(params["c"] ** 2)),
            "miss_bits": jnp.packbits(miss_N),
        }

    # ---- host side ----

    def describe(self) -> str:
        return f"classifier n={self.n} m={self.m} {self.act} {self.head} init={self.init}"

    def certify(self, params, ctx, runs, kappa_tol=None) -> dict:
        """No end-state certificates: its runs have no verdicts beyond finished/diverged."""
        return {}

    def lane_bytes(self, dtype) -> None:
        return None  # the trainer runs all lanes of a call in one block

    def cost(self) -> float:
        return float(self.n * self.m * self.bank.x_train.shape[2])

    def event_times(self, snaps: dict) -> dict:
        del snaps
        return {}
