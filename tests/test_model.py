"""Init schemes against their defining (in)equalities; the NNX module against the pure forward."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from alignment.two_layer import model

D, M, LAM = 5, 4000, 0.3
S = LAM / np.sqrt(M)


def _init(scheme, bias=False, mirrored=False, m=M):
    return model.init_params(
        jax.random.key(0), D, m, LAM, scheme, bias=bias, mirrored=mirrored, dtype=jnp.float64
    )


@pytest.mark.parametrize("bias", [False, True])
def test_balanced(bias):
    p = _init("balanced", bias)
    wb = np.asarray(model.neuron_vectors(p))
    np.testing.assert_allclose(np.abs(p["a"]), np.linalg.norm(wb, axis=1), rtol=1e-12)
    # M*(D+1) ~ 2e4 Gaussian entries: the sample std is within 1% of s with overwhelming
    # probability (relative error ~ 1/sqrt(2N) = 0.5%), so 3% cannot fail by chance.
    assert abs(np.std(wb) / S - 1) < 0.03
    frac_pos = np.mean(np.asarray(p["a"]) > 0)
    assert 0.45 < frac_pos < 0.55  # fair sign: 4000 draws, std 0.008


def test_unbalanced_independent_gaussians():
    p = _init("unbalanced")
    a, w = np.asarray(p["a"]), np.asarray(p["w"])
    assert abs(np.std(a) / S - 1) < 0.05  # 4000 draws: std error ~1.1%
    assert abs(np.std(w) / S - 1) < 0.03
    assert abs(np.corrcoef(np.abs(a), np.linalg.norm(w, axis=1))[0, 1]) < 0.1


@pytest.mark.parametrize("bias", [False, True])
def test_dominated(bias):
    p = _init("dominated", bias)
    wb = np.asarray(model.neuron_vectors(p))
    d_in = D + 1 if bias else D
    assert np.all(np.abs(wb) <= S)
    np.testing.assert_allclose(np.abs(p["a"]), S * np.sqrt(d_in), rtol=1e-12)
    assert np.all(np.abs(p["a"]) >= np.linalg.norm(wb, axis=1))
    assert abs(np.std(wb) / (S / np.sqrt(3)) - 1) < 0.03  # U(-s, s) has std s/sqrt(3)


@pytest.mark.parametrize("scheme", model.INIT_SCHEMES)
def test_mirrored_output_is_zero(scheme):
    p = _init(scheme, bias=True, mirrored=True, m=64)
    np.testing.assert_array_equal(p["w"][:32], p["w"][32:])
    np.testing.assert_array_equal(p["a"][:32], -p["a"][32:])
    x = jax.random.normal(jax.random.key(1), (50, D), jnp.float64)
    # Pairs cancel exactly in exact arithmetic; the summation order leaves at most a few
    # float64 ulps of sum_j |a_j relu(.)|, whereas an unmirrored net is O(that sum).
    scale = jnp.abs(jax.nn.relu(model.preactivations(p, x))) @ jnp.abs(p["a"])
    assert np.all(np.abs(model.forward(p, x)) <= 1e-14 * scale)
    assert np.all(scale > 0)


def test_module_matches_pure_forward():
    net = model.TwoLayer(D, 16, 1.0, rngs=nnx.Rngs(3), bias=True, activation="gelu")
    p = model.pure_params(net)
    assert set(p) == {"w", "a", "b"}
    x = jax.random.normal(jax.random.key(2), (7, D))
    np.testing.assert_allclose(net(x), model.forward(p, x, "gelu"), rtol=1e-6)
    hand = jax.nn.gelu(x @ p["w"].T + p["b"]) @ p["a"]
    np.testing.assert_allclose(net(x), hand, rtol=1e-6)


def test_bad_names_raise():
    with pytest.raises(ValueError, match="init='xavier'"):
        _init("xavier")
    with pytest.raises(ValueError, match="activation='tanh'"):
        model.activation_fn("tanh")
    with pytest.raises(ValueError, match="even width"):
        _init("balanced", mirrored=True, m=5)
