"""The classifier family's pieces (DESIGN.md section 4): class geometry against a plain numpy
loop, both inversion rules on constructed series, the hypergeometric null against exact
enumeration, the data checks, and removal by weight 0 equal to training without the points."""

import itertools
import math

import jax.numpy as jnp
import numpy as np
import pytest

from alignment.classifier import data as class_data
from alignment.classifier import family as cl
from alignment.classifier import stats as class_stats
from alignment.engine import integrate, train


def geometry_loop(h, labels, weight):
    """R_c, D by explicit loops over points (zero rows and weight-0 points skipped)."""
    units = {0: [], 1: []}
    for hi, c, w in zip(h, labels, weight, strict=True):
        norm = math.sqrt(sum(v * v for v in hi))
        if norm > 0 and w > 0:
            units[int(c)].append([v / norm for v in hi])
    mus, out = {}, {}
    for c, us in units.items():
        mus[c] = [sum(col) / len(us) for col in zip(*us, strict=True)]
        sq = [sum((u[j] - mus[c][j]) ** 2 for j in range(len(u))) for u in us]
        out[f"R_{c}"] = math.sqrt(sum(sq) / len(us))
    out["D"] = math.sqrt(sum((a - b) ** 2 for a, b in zip(mus[0], mus[1], strict=True)))
    return out


def test_class_geometry_matches_a_plain_loop_with_zero_rows():
    rng = np.random.default_rng(0)
    h = np.maximum(rng.standard_normal((40, 6)), 0)  # ReLU-like: some all-zero rows
    h[[3, 17, 25]] = 0.0
    labels = rng.integers(0, 2, 40)
    weight = (rng.random(40) > 0.2).astype(float)
    got = class_stats.class_geometry(jnp.asarray(h), jnp.asarray(labels), jnp.asarray(weight))
    want = geometry_loop(h, labels, weight)
    for k in ("R_0", "R_1", "D"):  # float64 throughout: agreement to rounding
        assert float(got[k]) == pytest.approx(want[k], rel=1e-12), k
    zero = np.sum((np.linalg.norm(h, axis=1) == 0) & (weight > 0)) / np.sum(weight > 0)
    assert float(got["zero_rows"]) == pytest.approx(zero, rel=1e-12)


def test_inversion_rules_on_constructed_series():
    t = np.arange(200.0)
    r = 1 + (t - 80.0) ** 2 / 1e4  # minimum at step 80
    assert class_stats.paper_inversion(r) == 81  # first step with R(t) >= R(t-1)
    assert class_stats.robust_inversion(r) == 80
    flat = np.full(200, 0.7)  # no rise anywhere: the robust rule says "no inversion"
    assert class_stats.robust_inversion(flat) is None
    falling = 2.0 - t / 200  # monotone: neither rule finds one
    assert class_stats.paper_inversion(falling) is None
    assert class_stats.robust_inversion(falling) is None
    noisy = r.copy()
    noisy[:20] += np.where(np.arange(20) % 2, 0.3, -0.3)  # early noise before the burn-in
    assert class_stats.paper_inversion(noisy) == 81
    assert class_stats.robust_inversion(noisy) == 80


def test_hypergeometric_null_against_exact_enumeration():
    n, size_a, size_b = 9, 4, 3
    a = np.zeros(n, bool)
    a[:size_a] = True
    counts = [int(a[list(b)].sum()) for b in itertools.combinations(range(n), size_b)]
    mean, var = class_stats.hypergeom_null(size_a, size_b, n)
    assert mean == pytest.approx(np.mean(counts), rel=1e-12)
    assert var == pytest.approx(np.var(counts), rel=1e-12)
    b = np.zeros(n, bool)
    b[[0, 1, 5]] = True
    o = class_stats.overlap(a, b)
    assert o["overlap"] == 2 and o["jaccard"] == pytest.approx(2 / 5)
    assert o["z"] == pytest.approx((2 - mean) / math.sqrt(var))


def test_digits_split_statistics():
    x, y = class_data.digits()
    assert x.shape == (1797, 64) and set(np.unique(y)) == {0, 1}
    assert abs(y.mean() - 0.5) < 0.01  # parity labels are balanced (896 odd of 1797)
    sp = class_data.split(x, y, 1000, perm_seed=3)
    assert sp.x_test.shape == (797, 64)
    block = x[np.random.default_rng(3).permutation(1797)[:1000]]
    used = block.std(axis=0) > 0  # pixels constant in the block stay 0 (std + eps scaling)
    np.testing.assert_allclose(sp.x_train.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(sp.x_train.std(axis=0)[used], 1, rtol=1e-6)
    # nested in n: the first 500 of the same permutation are the first 500 rows here
    small = class_data.split(x, y, 500, perm_seed=3)
    np.testing.assert_array_equal(small.y_train, sp.y_train[:500])


@pytest.mark.parametrize(
    ("arrays", "says"),
    [
        ({"x": np.zeros((4, 2))}, "lacks ['y']"),
        ({"x": np.zeros(4), "y": np.zeros(4)}, "x must be 2-D"),
        ({"x": np.zeros((4, 2)), "y": np.zeros(3)}, "x has 4 rows but y has 3"),
        ({"x": np.zeros((4, 2)), "y": np.array([0, 1, 2, 1])}, "labels [0, 1, 2]"),
        ({"x": np.array([[0, 1], [np.nan, 2]]), "y": np.array([0, 1])}, "row 1, column 0"),
        ({"x": np.zeros((4, 2)), "y": np.zeros(4), "x_test": np.zeros((2, 2))}, "both x_test"),
        (
            {
                "x": np.zeros((4, 2)),
                "y": np.zeros(4),
                "x_test": np.zeros((2, 3)),
                "y_test": np.zeros(2),
            },
            "must have 2 columns",
        ),
    ],
)
def test_file_data_errors_name_the_problem(tmp_path, arrays, says):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError) as err:
        class_data.load_file(path)
    assert says in str(err.value)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 1e-4)])
def test_weight_zero_equals_training_without_the_points(dtype, rtol):
    """Removal by weight 0 on k points inside a program equals a program on the other n - k
    points: the weighted mean is the same sum in another order, so they agree to rounding
    (float64 1e-10; float32 ~1e-7 per step compounded over 40 steps: 1e-4)."""
    x, y = class_data.sign_teacher(60, 5, 0.1, seed=1)
    sp = class_data.split(x, y, 40, perm_seed=0)
    keep = np.ones(40)
    keep[[2, 7, 30]] = 0

    def run(xt, yt, weights):
        bank = cl.DataBank(
            xt[None], yt[None], sp.x_test[None], sp.y_test[None], sp.x_test[None], weights[None]
        )
        prog = train.Program(cl.Classifier(bank, 6, "tanh", "softmax"), integrate.GD(), dtype)
        lanes = train.Lanes.make(seed=[4], data_index=0, weight_index=0, scale=1.0, lr=0.2)
        state, ctx = train.init_runs(prog, lanes, shard=False)
        state, snaps = train.train(prog, state, ctx, 0.2 * np.arange(0, 41, 8), shard=False)
        return state.params, snaps

    p_w, s_w = run(sp.x_train, sp.y_train, keep)
    p_k, s_k = run(sp.x_train[keep > 0], sp.y_train[keep > 0], np.ones(37))
    for k in p_w:
        np.testing.assert_allclose(
            np.asarray(p_w[k]), np.asarray(p_k[k]), rtol=rtol, atol=rtol * 1e-2
        )
    for k in ("loss", "train_error", "R_0", "R_1", "D"):
        np.testing.assert_allclose(np.asarray(s_w[k]), np.asarray(s_k[k]), rtol=rtol)


@pytest.mark.parametrize("head", ["softmax", "square"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_suite_small_init_schemes(head, dtype):
    """balanced: |v_j| = |(w_j, b_j)| per neuron (the conserved balance is 0); dominated:
    |v_j| >= |(w_j, b_j)|; both at lambda = scale, entries ~ scale / sqrt(m); in the run's dtype."""
    import jax

    x, y = class_data.sign_teacher(40, 5, 0.0, seed=1)
    bank = cl.DataBank(x[None], y[None], x[None], y[None], x[None], np.ones((1, 40)))
    for init in ("balanced", "dominated"):
        fam = cl.Classifier(bank, m=16, act="relu", head=head, init=init)
        fam.validate()
        p = fam.init_params(jax.random.key(0), jnp.asarray(1e-3), jnp.dtype(dtype))
        assert all(v.dtype == jnp.dtype(dtype) for v in p.values())
        theta = np.sqrt(np.sum(np.asarray(p["w"], float) ** 2, 1) + np.asarray(p["b"], float) ** 2)
        v = np.linalg.norm(np.asarray(p["v"], float), axis=0)
        rel = 1e-6 if dtype == "float32" else 1e-12  # rounding of one norm in the dtype
        if init == "balanced":
            np.testing.assert_allclose(v, theta, rtol=rel)
        else:
            assert np.all(v >= theta * (1 - rel))
        assert np.all(np.asarray(p["c"]) == 0)
        assert 1e-5 < np.median(theta) < 1e-2  # lambda/sqrt(m) per entry, 6 entries per row
    with pytest.raises(ValueError, match="init='xavier' is not one of"):
        cl.Classifier(bank, init="xavier").validate()
