"""The sharpness against the dense Hessian's eigenvalues."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from alignment.engine import curvature
from alignment.two_layer import data, model
from alignment.two_layer.data import DataSpec


def test_power_iteration_finds_lambda_max_of_the_dense_hessian():
    key = jax.random.key(0)
    train, _, _ = data.make_data(key, DataSpec("linear", d=3), 12, 12, 0.3, 4, jnp.float64)
    params = model.init_params(key, 3, 5, 1.0, "balanced", dtype=jnp.float64)

    def loss_and_grad(p):
        return jax.value_and_grad(model.loss)(p, train.x_NxD, train.y_N, train.mask_N, train.n)

    flat, unravel = ravel_pytree(params)
    dense = jax.hessian(lambda v: loss_and_grad(unravel(v))[0])(flat)
    eig = np.linalg.eigvalsh(np.asarray(dense))
    top = eig[np.argmax(np.abs(eig))]
    probe = curvature.random_probe(jax.random.key(1), params)
    lam, probe = curvature.sharpness(loss_and_grad, params, probe, 200)
    # 200 iterations shrink the other components by (|lambda_2| / |lambda_1|)^200; the Rayleigh
    # quotient's error is the square of that, far below 1e-6 unless the top two are within 3%
    gap = np.sort(np.abs(eig))[-2] / abs(top)
    assert gap < 0.97
    np.testing.assert_allclose(float(lam), top, rtol=1e-6)
    # warm start: a few more iterations from the converged probe keep the value
    lam2, _ = curvature.sharpness(loss_and_grad, params, probe, 2)
    np.testing.assert_allclose(float(lam2), top, rtol=1e-6)
