"""Per-snapshot statistics of one network, reduced on device (vmapped over runs by train.py)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from alignment import model
from alignment.data import Dataset, augment


class Reference(NamedTuple):
    """Least-squares reference for one run's data (computed once, at t = 0)."""

    beta_hat: jax.Array  # OLS coefficients on the augmented inputs, (d,) or (d+1,) with bias
    train_loss: jax.Array  # (1/2n) ||X beta_hat - y||^2
    test_loss: jax.Array  # on the noisy test targets
    test_excess: jax.Array  # on the noise-free test targets


def half_mse(pred_N, y_N, mask_N, n):
    """(1/2n) sum_i mask_i (pred_i - y_i)^2."""
    r = (pred_N - y_N) * mask_N
    return 0.5 * jnp.sum(r * r) / n


def ols_reference(train: Dataset, test: Dataset, bias: bool) -> Reference:
    """Minimum-norm least squares on the masked training set (with intercept iff bias).

    A bias-free ReLU network represents every linear map (a relu(w.x) - a relu(-w.x) = a w.x),
    one with hidden bias every affine map, so this is the best the network can do with a
    'linear' solution.
    """
    x_tr = augment(train.x_NxD, bias) * train.mask_N[:, None]
    beta = jnp.linalg.pinv(x_tr) @ (train.y_N * train.mask_N)
    x_te = augment(test.x_NxD, bias)
    return Reference(
        beta_hat=beta,
        train_loss=half_mse(x_tr @ beta, train.y_N, train.mask_N, train.n),
        test_loss=half_mse(x_te @ beta, test.y_N, test.mask_N, test.n),
        test_excess=half_mse(x_te @ beta, test.y_clean_N, test.mask_N, test.n),
    )


def balancedness(params: model.Params) -> jax.Array:
    """a_j^2 - ||(w_j, b_j)||^2 per neuron: conserved along gradient flow."""
    return params["a"] ** 2 - jnp.sum(model.neuron_vectors(params) ** 2, axis=1)


def snapshot_stats(
    params: model.Params,
    train: Dataset,
    test: Dataset,
    balance0_M: jax.Array,
    activation: str,
    store_neurons: bool,
) -> dict[str, jax.Array]:
    """Statistics of one network at one snapshot time."""

    def train_loss(p):
        return model.loss(p, train.x_NxD, train.y_N, train.mask_N, train.n, activation)

    loss, grads = jax.value_and_grad(train_loss)(params)
    grad_norm = jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree_util.tree_leaves(grads)))
    pred_te = model.forward(params, test.x_NxD, activation)
    out = {
        "loss": loss,
        "grad_norm": grad_norm,
        "test_loss": half_mse(pred_te, test.y_N, test.mask_N, test.n),
        "test_excess": half_mse(pred_te, test.y_clean_N, test.mask_N, test.n),
        "balance_drift": jnp.max(jnp.abs(balancedness(params) - balance0_M)),
    }
    if store_neurons:
        out["neuron_w"] = model.neuron_vectors(params)
        out["neuron_a"] = params["a"]
    return out
