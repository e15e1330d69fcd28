"""Data models: nesting across n and padding, symmetry, fixed sets, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignment.two_layer import data
from alignment.two_layer.data import DataSpec


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


@pytest.mark.parametrize("spec", [DataSpec("linear", d=3), DataSpec("linear", d=3, symmetric=True)])
def test_train_and_test_rows_come_from_their_own_streams(spec):
    """Training and test rows are drawn in one vmapped draw, each row from its own set's key:
    neither set depends on the other's size, and no test row repeats a training row."""
    train_a, test_a, _ = _make(spec, 6, 8, n_test=10)
    train_b, test_b, _ = _make(spec, 6, 12, n_test=20)
    # the first 3 rows are real in both (symmetric sets put the negated half after the base)
    np.testing.assert_array_equal(train_a.x_NxD[:3], train_b.x_NxD[:3])
    np.testing.assert_array_equal(train_a.y_N[:3], train_b.y_N[:3])
    np.testing.assert_array_equal(test_a.y_N[:5], test_b.y_N[:5])
    gap = np.abs(np.asarray(train_b.x_NxD)[:3, None] - np.asarray(test_b.x_NxD)[None])
    assert np.all(gap.max(axis=2) > 1e-6)


def test_a_samples_first_key_alone_equals_the_first_of_its_split():
    """Models that draw from one key take ``split(k, 1)[0]`` (half the compile of a split):
    the data stay those of ``split(k)[0]`` only while JAX's threefry split hashes each key's
    own counter. A JAX upgrade that breaks this would change every data set: this fails."""
    keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.key(7), jnp.arange(64))
    one = jax.vmap(lambda k: jax.random.key_data(jax.random.split(k, 1)[0]))(keys)
    first = jax.vmap(lambda k: jax.random.key_data(jax.random.split(k)[0]))(keys)
    np.testing.assert_array_equal(one, first)


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


# ---- data model file: a user's arrays ----


def _user_arrays(rows=50, d=3, with_test=False):
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((rows, d)), rng.standard_normal(rows)
    if not with_test:
        return data.FileArrays(x, y, path="mine.npz")
    return data.FileArrays(x, y, rng.standard_normal((9, d)), rng.standard_normal(9), "mine.npz")


def test_file_rows_nested_in_n_and_test_rows_disjoint():
    """A run's training rows are file rows (a seeded permutation's prefix: nested in n); the
    test set is the permutation's last n_test rows, never in the training set."""
    f = _user_arrays()
    spec = DataSpec("file", d=3, file=f)
    key = jax.random.key(4)
    small, _, _ = data.make_data(key, spec, 8, 16, 0.0, 10, jnp.float64)
    big, test, _ = data.make_data(key, spec, 40, 40, 0.0, 10, jnp.float64)
    np.testing.assert_array_equal(small.x_NxD[:8], big.x_NxD[:8])
    assert np.all(np.asarray(small.x_NxD[8:]) == 0) and float(small.mask_N.sum()) == 8
    rows = {tuple(r) for r in f.x_NxD}
    train_rows = {tuple(r) for r in np.asarray(big.x_NxD)}
    test_rows = {tuple(r) for r in np.asarray(test.x_NxD)}
    assert train_rows <= rows and test_rows <= rows and not train_rows & test_rows
    i = [list(map(tuple, f.x_NxD)).index(tuple(r)) for r in np.asarray(big.x_NxD)]
    np.testing.assert_array_equal(np.asarray(big.y_N), f.y_N[i])  # targets follow their rows
    other, _, _ = data.make_data(jax.random.key(5), spec, 40, 40, 0.0, 10, jnp.float64)
    assert not np.array_equal(np.asarray(other.x_NxD), np.asarray(big.x_NxD))  # per-seed draw


def test_file_test_arrays_are_used_when_given():
    f = _user_arrays(with_test=True)
    _, test, _ = data.make_data(
        jax.random.key(0), DataSpec("file", d=3, file=f), 20, 24, 0.0, 9, jnp.float64
    )
    np.testing.assert_array_equal(np.asarray(test.x_NxD), f.x_test)
    np.testing.assert_array_equal(np.asarray(test.y_N), f.y_test)


def test_file_arrays_hash_by_content():
    a, b = _user_arrays(), _user_arrays()
    assert a == b and hash(a) == hash(b)
    assert DataSpec("file", d=3, file=a) == DataSpec("file", d=3, file=b)  # one compile


@pytest.mark.parametrize(
    "d, n_max, n_test, with_test, says",
    [
        (4, 10, 10, False, "d=4 does not match the 3 columns of mine.npz"),
        (3, 45, 10, False, "n=45 exceeds the 40 rows of mine.npz left for training"),
        (3, 10, 60, False, "n_test=60 leaves none of the 50 rows of mine.npz"),
        (3, 10, 12, True, "n_test=12 exceeds the 9 test rows of mine.npz"),
    ],
)
def test_file_sizes_checked(d, n_max, n_test, with_test, says):
    f = _user_arrays(with_test=with_test)
    with pytest.raises(ValueError, match=None) as err:
        DataSpec("file", d=d, file=f).validate()
        f.check_sizes(n_max, n_test)
    assert says in str(err.value)


@pytest.mark.parametrize("file_noise", [0.0, 0.3])
def test_a_sweep_takes_a_files_targets_as_given(tmp_path, file_noise):
    """Noise-free linear targets in a file: the sweep's OLS train loss is the file's own (0 to
    float64 rounding), whatever the config's sigma; noise is added only by file_noise, and the
    run table's sigma says how much (OLS on n noisy rows: ~ s^2 (1 - d/n) / 2)."""
    from micro import micro_config

    from alignment import registry
    from alignment.engine import train
    from alignment.two_layer import grid

    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 2))
    np.savez(tmp_path / "lin.npz", x=x, y=x @ np.array([1.0, -2.0]))
    cfg = micro_config()
    cfg.data, cfg.data_file, cfg.n_test = "file", str(tmp_path / "lin.npz"), 8
    cfg.sigma, cfg.file_noise = (0.5,), file_noise
    chunks = registry.check_config(cfg)
    runs = grid.expand(cfg)
    assert set(runs["sigma"]) == {file_noise}  # not the config's sigma = 0.5
    chunk = chunks[-1]  # n = 16
    _, ctx = train.init_runs(chunk.program, grid.lanes_for(runs, chunk.run_ids, chunk.lanes))
    ols = np.asarray(ctx.family.ref.train_loss)
    if file_noise == 0:
        assert np.all(ols < 1e-20)  # float64 least squares on exact linear targets
    else:
        expected = file_noise**2 * (1 - 2 / 16) / 2  # E[OLS train loss] = 0.039
        assert np.all((ols > 0.2 * expected) & (ols < 3 * expected))
