"""Data models: nesting across n and padding, symmetry, fixed sets, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignment import data
from alignment.data import DataSpec


def _make(spec, n, n_pad, sigma=0.3, seed=0, n_test=20):
    return data.make_data(jax.random.key(seed), spec, n, n_pad, sigma, n_test, jnp.float64)


@pytest.mark.parametrize("name", ["linear", "xor", "separated"])
def test_prefix_nesting_and_padding(name):
    spec = DataSpec(name, d=3)
    small, test_a, beta_a = _make(spec, 5, 8)
    big, test_b, beta_b = _make(spec, 11, 16)
    np.testing.assert_array_equal(small.x_NxD[:5], big.x_NxD[:5])
    np.testing.assert_array_equal(small.y_N[:5], big.y_N[:5])
    np.testing.assert_array_equal(small.mask_N, [1] * 5 + [0] * 3)
    np.testing.assert_array_equal(small.x_NxD[5:], 0)
    np.testing.assert_array_equal(test_a.x_NxD, test_b.x_NxD)
    np.testing.assert_array_equal(beta_a, beta_b)


def test_linear_teacher_and_noise():
    spec = DataSpec("linear", d=4)
    train, test, beta = _make(spec, 4000, 4000, sigma=0.5)
    np.testing.assert_allclose(np.linalg.norm(beta), 1.0, rtol=1e-12)
    np.testing.assert_allclose(train.y_clean_N, train.x_NxD @ beta, rtol=1e-12)
    # residual noise std: 4000 draws, std error 1.1%, so 5% is a safe band around sigma = 0.5.
    assert abs(np.std(train.y_N - train.y_clean_N) / 0.5 - 1) < 0.05
    assert abs(np.std(train.x_NxD) - 1) < 0.05


def test_ball_inputs_inside_unit_ball():
    train, _, _ = _make(DataSpec("linear", d=5, x_dist="ball"), 2000, 2000)
    r = np.linalg.norm(train.x_NxD, axis=1)
    assert r.max() <= 1.0
    # uniform in the ball: P(r <= 0.5) = 0.5^d = 1/32; 2000 draws -> 62 +- 8
    assert 30 < np.sum(r <= 0.5) < 100


def test_symmetric_pairs():
    train, test, _ = _make(DataSpec("linear", d=3, symmetric=True), 10, 16)
    x, y, mask = np.asarray(train.x_NxD), np.asarray(train.y_N), np.asarray(train.mask_N)
    np.testing.assert_array_equal(x[:8], -x[8:])
    np.testing.assert_array_equal(y[:8], -y[8:])
    assert mask.sum() == 10 and np.all(mask[:5] == 1) and np.all(mask[5:8] == 0)
    assert float(train.n) == 10


def test_fixed_sets():
    train, test, _ = _make(DataSpec("three_points", d=1), 3, 4, n_test=3)
    np.testing.assert_allclose(train.x_NxD[:3, 0], data.THREE_POINTS_X)
    np.testing.assert_allclose(train.y_N[:3], data.THREE_POINTS_Y)
    train, _, _ = _make(DataSpec("stewart", d=1), 40, 40)
    x = np.asarray(train.x_NxD[:, 0])
    np.testing.assert_allclose(
        train.y_N, np.interp(x, data.STEWART_KNOTS_X, data.STEWART_KNOTS_Y), atol=1e-12
    )


def test_separated_correlations():
    train, _, _ = _make(DataSpec("separated", d=6), 200, 200)
    x, y = np.asarray(train.x_NxD), np.asarray(train.y_N)
    assert set(np.unique(y)) == {-1.0, 1.0}
    signed_gram = (x @ x.T) * np.outer(y, y)
    assert signed_gram.min() > 0  # same label: positive; different label: negative


def test_xor_labels():
    train, _, _ = _make(DataSpec("xor", d=2, spread=0.05), 400, 400)
    x, y = np.asarray(train.x_NxD), np.asarray(train.y_N)
    on_e1 = np.abs(x[:, 0]) > np.abs(x[:, 1])
    np.testing.assert_array_equal(y, np.where(on_e1, 1.0, -1.0))
    # in the frame rotated by 45 degrees, the label is sign(x1' x2') (XOR)
    xr = x @ (np.array([[1, 1], [-1, 1]]) / np.sqrt(2))
    np.testing.assert_array_equal(y, np.sign(xr[:, 0] * xr[:, 1]))


@pytest.mark.parametrize(
    "spec, n, match",
    [
        (DataSpec("mnist"), 4, "data='mnist'"),
        (DataSpec("linear", x_dist="cube"), 4, "x_dist='cube'"),
        (DataSpec("linear"), 0, "n=0"),
        (DataSpec("linear"), -3, "n=-3"),
        (DataSpec("stewart", d=2), 4, "d must be 1"),
        (DataSpec("three_points", d=1), 5, "exactly 3"),
        (DataSpec("linear", symmetric=True), 5, "even"),
    ],
)
def test_validation(spec, n, match):
    with pytest.raises(ValueError, match=match):
        spec.validate(n=n)
