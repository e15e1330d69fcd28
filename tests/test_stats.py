"""Per-snapshot statistics: hand-made cases with known answers, and the real trainer's dynamics."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from alignment.engine import integrate, train
from alignment.two_layer import extremal, stats, trajectory
from alignment.two_layer.data import Dataset, DataSpec
from alignment.two_layer.family import TwoLayer

F64 = jnp.float64


def _dataset(x_NxD, y_N, mask_N) -> Dataset:
    x, y, mask = (jnp.asarray(v, F64) for v in (x_NxD, y_N, mask_N))
    return Dataset(x * mask[:, None], y * mask, y * mask, mask, jnp.sum(mask))


def _unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rotate_towards(u_D, v_D, deg):
    """The unit vector at angle ``deg`` from u, in the plane of u and v."""
    u, v = _unit(u_D), _unit(v_D)
    v = _unit(v - (v @ u) * u)
    return np.cos(np.deg2rad(deg)) * u + np.sin(np.deg2rad(deg)) * v


# ---------------------------------------------------------------- hand-made cases


def test_stable_rank_known_matrices():
    rng = np.random.default_rng(0)
    rank_one = np.outer(rng.normal(size=7), rng.normal(size=4))
    two = np.diag([2.0, 1.0])
    orthonormal = np.linalg.qr(rng.normal(size=(5, 5)))[0][:3]  # 3 orthonormal rows
    got = [float(stats.stable_rank(jnp.asarray(w, F64))) for w in (rank_one, two, orthonormal)]
    # ||W||_F^2 / ||W||_2^2: 1 for rank one, (4 + 1) / 4, and 3 for three equal singular
    # values; 1e-12 is float64 rounding of an eigvalsh of a 4x4 / 5x5 Gram matrix.
    np.testing.assert_allclose(got, [1.0, 1.25, 3.0], rtol=1e-12)
    assert np.isnan(stats.stable_rank(jnp.zeros((3, 2), F64)))


def _hand_made():
    """5 real points in the closed positive quadrant plus one padded row, 3 neurons.

    Patterns (w1, w2, w3) on x1..x5: (1,0,0) (0,1,0) (1,1,0) (1,0,0) (1,1,0): 3 distinct rows
    (x4 repeats x1, x5 = 2 x3). w3 = (-1, -1) is negative on every real point: dead. The padded
    row (-1, -1) would add the pattern (0, 0, 1) and wake w3 if it were counted.
    """
    x = [[1, 0], [0, 1], [1, 1], [1, 0], [2, 2], [-1, -1]]
    mask = [1, 1, 1, 1, 1, 0]
    w = jnp.asarray([[1.0, -0.5], [-0.5, 1.0], [-1.0, -1.0]], F64)
    return _dataset(x, np.ones(6), mask), w


def test_activation_patterns_and_dead_neurons_hand_made():
    train_set, w = _hand_made()
    on = stats.activity(w, train_set.x_NxD, train_set.mask_N)
    assert int(stats.count_patterns(on, train_set.mask_N)) == 3
    assert float(stats.dead_fraction(on)) == pytest.approx(1 / 3)
    # all samples real: the padded row becomes a real point with a fourth pattern, w3 wakes up
    all_real = _dataset(np.asarray(train_set.x_NxD).tolist()[:5] + [[-1, -1]], np.ones(6), [1] * 6)
    on = stats.activity(w, all_real.x_NxD, all_real.mask_N)
    assert int(stats.count_patterns(on, all_real.mask_N)) == 4
    assert float(stats.dead_fraction(on)) == 0.0
    # one all-zero pattern counts as a pattern: a point where no neuron is active
    only_off = _dataset([[-1, -1], [-2, -2]], [1, 1], [1, 1])
    on = stats.activity(w[:2], only_off.x_NxD, only_off.mask_N)
    assert int(stats.count_patterns(on, only_off.mask_N)) == 1


def _planted(k, seed, d=6, eps_noise_deg=1.0):
    """k well-separated direction clusters, light strays, and heavy dead neurons.

    Inputs lie in the positive orthant; cluster centres and strays are in it too (so they are
    active), dead neurons in the negative orthant (inactive on every input) carry the largest
    masses, so counting them would add clusters.
    """
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(size=(30, d))) + 0.05
    centres = []
    while len(centres) < k:
        c = _unit(np.abs(rng.normal(size=d)))
        if all(np.degrees(np.arccos(np.clip(c @ o, -1, 1))) > 30 for o in centres):
            centres.append(c)
    u, mass = [], []
    for c in centres:
        size = rng.integers(3, 12)
        for _ in range(size):
            u.append(_rotate_towards(c, rng.normal(size=d), rng.uniform(0, eps_noise_deg)))
        mass += list(rng.uniform(0.5, 1.5, size) / size)  # clusters of comparable total mass
    n_stray = 15  # scattered, each 1e-4 of the mass: together far below the 1% cluster share
    u += [_unit(np.abs(rng.normal(size=d))) for _ in range(n_stray)]
    mass += [1e-4 * sum(mass)] * n_stray
    n_dead = 4
    u += [-_unit(np.abs(rng.normal(size=d))) for _ in range(n_dead)]
    mass += [10.0] * n_dead
    return x, np.asarray(u), np.asarray(mass), n_dead


@functools.cache
def _cluster_fn():
    def f(x, u, mass):
        on = stats.activity(u, x, jnp.ones(x.shape[0], F64))
        active = jnp.any(on, axis=0)
        return stats.count_clusters(u, mass, active), stats.dead_fraction(on)

    return jax.jit(f)


@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_clusters_count_planted_directions(k):
    for seed in range(3):
        x, u, mass, n_dead = _planted(k, seed)
        count, dead = _cluster_fn()(*(jnp.asarray(v, F64) for v in (x, u, mass)))
        assert int(count) == k
        assert float(dead) == pytest.approx(n_dead / len(u))


def test_clusters_merge_within_tolerance_and_split_beyond():
    # two groups 2 degrees apart are one direction at the 5 degree tolerance, 20 apart are two
    rng = np.random.default_rng(1)
    x = jnp.asarray(np.abs(rng.normal(size=(10, 3))) + 0.1, F64)
    c = _unit([1.0, 1.0, 1.0])
    for gap, want in ((2.0, 1), (20.0, 2)):
        u = np.stack([c, c, _rotate_towards(c, [1.0, 0, 0], gap)])
        count, _ = _cluster_fn()(x, jnp.asarray(u, F64), jnp.asarray([1.0, 1.0, 1.0], F64))
        assert int(count) == want


def _snapshot(params, train_set, beta_hat, ext, store=True):
    m = params["a"].shape[0]
    return jax.device_get(
        stats.snapshot_stats(
            params,
            train_set,
            train_set,
            jnp.zeros(m, F64),
            "relu",
            store,
            beta_hat=jnp.asarray(beta_hat, F64),
            ext=ext,
            norm0_max=jnp.asarray(0.5, F64),
        )
    )


def test_aligned_fractions_respect_sign_classes_and_mass():
    # One maximum e1 and one minimum -e1 of G_n; beta_hat along e1. Neurons (mass):
    #   0: a>0 at 1 deg from e1 (1)  -> aligned with its class and with beta_hat
    #   1: a<0 at 2 deg from -e1 (2) -> aligned with its class and with -beta_hat
    #   2: a>0 at 3 deg from -e1 (3) -> near a minimum: NOT aligned for a > 0; aligned with
    #      -beta_hat (the OLS criterion ignores the sign class)
    #   3: a<0 at 30 deg from e1 (4) -> aligned with nothing
    #   4: dead, along e1 (100)      -> ignored
    e1 = np.array([1.0, 0.0, 0.0])
    # every input has a positive third coordinate, so -e3 is inactive on all of them
    x = np.array([[1.0, 0.2, 0.1], [-1.0, 0.3, 0.2], [0.1, 1.0, 0.1], [0.2, -1.0, 0.3]])
    train_set = _dataset(x, np.ones(4), np.ones(4))
    w = np.stack(
        [
            _rotate_towards(e1, [0, 1, 0], 1),
            _rotate_towards(-e1, [0, 0, 1], 2),
            _rotate_towards(-e1, [0, 1, 0], 3),
            _rotate_towards(e1, [0, 0, 1], 30),
            np.array([0.0, 0.0, -1.0]),
        ]
    )
    assert np.all(np.any(x @ w[:4].T > 0, axis=0)) and np.all(x @ w[4] <= 0)
    mass = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    a = np.array([1.0, -1.0, 1.0, -1.0, 1.0]) * np.sqrt(mass)
    params = {"w": jnp.asarray(w * np.sqrt(mass)[:, None], F64), "a": jnp.asarray(a, F64)}
    ext = extremal.Extremal(
        u_ExD=jnp.asarray([e1, -e1, np.zeros(3)], F64),
        g_E=jnp.asarray([1.0, -1.0, 0.0], F64),
        is_max_E=jnp.asarray([True, False, False]),
        valid_E=jnp.asarray([True, True, False]),
    )
    out = _snapshot(params, train_set, 2.0 * e1, ext)
    total = 1 + 2 + 3 + 4
    # exact mass ratios: float64 rounding only
    assert out["aligned_fraction"] == pytest.approx((1 + 2) / total, rel=1e-12)
    assert out["ols_aligned_fraction"] == pytest.approx((1 + 2 + 3) / total, rel=1e-12)
    assert out["dead_fraction"] == pytest.approx(1 / 5)
    ang = np.degrees(out["neuron_extremal_angle"])
    # angles are built by rotation in float64: 1e-9 deg is rounding, not slack
    np.testing.assert_allclose(ang[:4], [1.0, 2.0, 177.0, 150.0], atol=1e-9)
    assert np.isnan(ang[4]) and np.isnan(out["neuron_cos_ols"][4])
    np.testing.assert_allclose(out["neuron_cos_ols"][:4], w[:4] @ e1, atol=1e-12)
    assert out["norm_growth"] == pytest.approx(np.sqrt(100.0) / 0.5)
    # without per-neuron storage only the reductions remain, with identical values
    small = _snapshot(params, train_set, 2.0 * e1, ext, store=False)
    assert not any(k.startswith("neuron_") for k in small)
    assert small["aligned_fraction"] == out["aligned_fraction"]


def test_event_times_first_crossing():
    snaps = {
        "time": np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0]]),
        "aligned_fraction": np.array([[0.0, 0.5, 0.95, 0.2], [np.nan, 0.1, 0.2, 0.3]]),
        "norm_growth": np.array([[1.0, 11.0, 50.0, 1.0], [1.0, 2.0, 3.0, 9.0]]),
        "loss": np.array([[1.0, 1.0, 0.95, 0.85], [2.0, 1.0, 1.0, 1.0]]),
    }
    ev = stats.event_times(snaps)
    np.testing.assert_array_equal(ev["alignment_time"], [2.0, np.inf])
    np.testing.assert_array_equal(ev["escape_time"], [1.0, np.inf])
    np.testing.assert_array_equal(ev["loss_drop_time"], [3.0, 1.0])


# ---------------------------------------------------------------- the real trainer

LAMS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
EXTRA_SEEDS = (1, 2, 3)  # at the smallest lam, for the alignment test
TIMES = np.linspace(0.0, 60.0, 241)  # uniform grid: event times resolved to 0.25


@pytest.fixture(scope="module")
def trained():
    """One compiled program: a lam sweep (seed 0) and more seeds at lam = 1e-8, float64.

    Linear teacher, d = 3, n = 12, sigma = 0.3, m = 20, lr = 0.05 (GD close to gradient flow).
    """
    family = TwoLayer(data=DataSpec("linear", d=3), m=20, n_pad=12, n_test=10)
    prog = train.Program(family, integrate.GD(), "float64")
    lams = np.array(LAMS + (LAMS[-1],) * len(EXTRA_SEEDS))
    seeds = [0] * len(LAMS) + list(EXTRA_SEEDS)
    lanes = train.Lanes.make(seed=seeds, n=12, lam=lams, lr=0.05, sigma=0.3)
    state, ctx = train.init_runs(prog, lanes)
    _, snaps = train.train(prog, state, ctx, TIMES)
    return jax.device_get(ctx.family), {k: np.asarray(v) for k, v in snaps.items()}


def _max_abs_g(ctx, r, num=200_000):
    """max |G_n| over the sphere by brute-force sampling (independent of the finder)."""
    u = _unit(np.random.default_rng(0).normal(size=(num, ctx.train.x_NxD.shape[-1])))
    x, y = np.asarray(ctx.train.x_NxD[r]), np.asarray(ctx.train.y_N[r] * ctx.train.mask_N[r])
    return np.max(np.abs(np.maximum(u @ x.T, 0) @ y)) / float(ctx.train.n[r])


def test_time_scales_with_log_one_over_lambda(trained):
    """The early phase lasts ~ log(1/lam) / max|G_n|; alignment inside it does not depend on lam.

    Early dynamics dw/dt = a D_n(w), da/dt = G_n(w) are homogeneous of degree 1, so with the
    scale-free definitions of the issue (share of mass aligned, norm growth by 10x) alignment
    and escape times tend to constants as lam -> 0; what grows linearly with log(1/lam) is the
    time at which the network leaves the plateau (norms ~ lam e^{max|G_n| t} reach O(1)).
    """
    ctx, snaps = trained
    rows = slice(0, len(LAMS))
    ev = stats.event_times({k: v[rows] for k, v in snaps.items()})
    log_inv = np.log(1.0 / np.asarray(LAMS))
    drop = ev["loss_drop_time"]
    slope, icpt = np.polyfit(log_inv, drop, 1)
    r2 = 1 - np.sum((drop - (slope * log_inv + icpt)) ** 2) / np.sum((drop - drop.mean()) ** 2)
    assert slope > 0 and r2 > 0.9
    # theory: slope 1/max|G_n|; 10% covers the 0.25 time grid and the sub-leading growth of
    # the second-fastest extremum (here G_max and |G_min| differ by ~1%)
    assert slope == pytest.approx(1.0 / _max_abs_g(ctx, 0), rel=0.1)
    # alignment is reached, before the plateau ends, at a lam-independent time: the spread
    # over six decades of lam is at most one grid step (0.25)
    align = ev["alignment_time"]
    assert np.all(np.isfinite(align)) and np.all(align < drop)
    assert np.ptp(align) <= 0.25 + 1e-9
    assert np.ptp(ev["escape_time"]) <= 0.25 + 1e-9


def _is_local_extremum(u, x, y, n, maximum, rng, delta=1e-3, tries=200):
    """G_n(u) >= G_n at random nearby unit vectors (<= for a minimum): a direct check."""
    v = _unit(u + delta * rng.normal(size=(tries, u.shape[0])))
    g = np.maximum(np.concatenate([u[None], v]) @ x.T, 0) @ y / n
    return np.all(g[1:] <= g[0] + 1e-12) if maximum else np.all(g[1:] >= g[0] - 1e-12)


def test_neurons_sit_at_extrema_of_their_sign_after_early_alignment(trained):
    ctx, snaps = trained
    rng = np.random.default_rng(0)
    runs = range(len(LAMS) - 1, len(LAMS) + len(EXTRA_SEEDS))  # lam = 1e-8, four seeds
    ev = stats.event_times(snaps)
    seen_pos = seen_neg = 0
    for r in runs:
        # a snapshot after alignment and well before the plateau ends
        t = 0.5 * (ev["alignment_time"][r] + ev["loss_drop_time"][r])
        k = int(np.searchsorted(TIMES, t))
        assert snaps["loss"][r, k] > 0.999 * snaps["loss"][r, 0]  # still in the early phase
        x, y = np.asarray(ctx.train.x_NxD[r]), np.asarray(ctx.train.y_N[r] * ctx.train.mask_N[r])
        n = float(ctx.train.n[r])
        keep = ctx.extremal.valid_E[r]
        e_u, e_max = np.asarray(ctx.extremal.u_ExD[r][keep]), ctx.extremal.is_max_E[r][keep]
        # the finder's labels are right: direct perturbation check of each extremum
        for u, mx in zip(e_u, e_max, strict=True):
            assert _is_local_extremum(u, x, y, n, bool(mx), rng)
        w, a = snaps["neuron_w"][r, k], snaps["neuron_a"][r, k]
        u = _unit(w)
        active = np.any(x @ w.T > 0, axis=0)
        mass = np.abs(a) * np.linalg.norm(w, axis=1) * active
        heavy = mass >= 1e-3 * mass.sum()  # lighter neurons are still rotating (or dying)
        ang = np.degrees(np.arccos(np.clip(u @ e_u.T, -1, 1)))  # (m, E)
        to_max = np.min(np.where(e_max[None], ang, np.inf), axis=1)
        to_min = np.min(np.where(~e_max[None], ang, np.inf), axis=1)
        # 5 degrees: the alignment tolerance (stats.ALIGN_EPS_DEG)
        assert np.all(to_max[heavy & (a > 0)] < 5.0)
        assert np.all(to_min[heavy & (a < 0)] < 5.0)
        seen_pos += np.sum(heavy & (a > 0))
        seen_neg += np.sum(heavy & (a < 0))
        # the recorded per-neuron angle agrees with this direct computation (to arccos
        # rounding near 0, ~1e-6 deg in float64)
        got = np.degrees(snaps["neuron_extremal_angle"][r, k])
        want = np.where(a >= 0, to_max, to_min)
        np.testing.assert_allclose(got[active], want[active], atol=1e-5)
        assert snaps["aligned_fraction"][r, k] > 0.99
    # both sign classes were tested (the a < 0 neurons' share shrinks when |min G_n| < max G_n)
    assert seen_pos > 0 and seen_neg > 0


def test_snapshot_series_are_consistent(trained):
    ctx, snaps = trained
    R, K = snaps["loss"].shape
    for key in ("n_directions", "n_patterns"):
        assert snaps[key].shape == (R, K) and snaps[key].dtype == np.int32
    assert snaps["neuron_w"].shape == (R, K, 20, 3)
    # the pattern count against numpy: distinct rows of the 0/1 activation matrix
    for r, k in [(0, 0), (2, K // 2), (R - 1, K - 1)]:
        on = ctx.train.x_NxD[r][: int(ctx.train.n[r])] @ snaps["neuron_w"][r, k].T > 0
        assert snaps["n_patterns"][r, k] == len(np.unique(on, axis=0))
    assert np.all((snaps["stable_rank"] >= 1 - 1e-9) & (snaps["stable_rank"] <= 3 + 1e-9))
    np.testing.assert_allclose(snaps["norm_growth"][:, 0], 1.0, rtol=1e-12)
    # once more than 99% of the mass sits within 5 degrees of the extremal vectors (and the
    # rest, below the 1% cluster share, cannot form a cluster of its own), the 20 neurons form
    # at most one cluster per extremal vector; at t = 0 they point everywhere
    ev = stats.event_times(snaps)
    for r in range(2, R):  # lam <= 1e-4: a plateau long enough to finish aligning
        t = 0.5 * (ev["alignment_time"][r] + ev["loss_drop_time"][r])
        k = int(np.searchsorted(TIMES, t))
        assert snaps["aligned_fraction"][r, k] > 0.99
        assert 1 <= snaps["n_directions"][r, k] <= int(ctx.extremal.valid_E[r].sum())
        assert snaps["n_directions"][r, 0] > snaps["n_directions"][r, k]


def test_snapshot_bytes_matches_the_record(trained):
    _, snaps = trained
    R, K = snaps["loss"].shape
    assert set(snaps) == set(
        stats.SCALAR_FLOAT_KEYS + stats.SCALAR_INT_KEYS + stats.PER_NEURON_KEYS + stats.TRAINER_KEYS
    )
    total = sum(v.nbytes for v in snaps.values())
    assert total == R * K * stats.snapshot_bytes(20, 3, 8, store_neurons=True)
    scalars = sum(v.nbytes for k, v in snaps.items() if k not in stats.PER_NEURON_KEYS)
    assert scalars == R * K * stats.snapshot_bytes(20, 3, 8, store_neurons=False)


def test_trajectory_loader_dict_and_dataset_agree(trained):
    ctx, snaps = trained
    r = 2
    from_dict = trajectory.load_run(snaps, r, ctx)
    assert from_dict.events["alignment_time"] == stats.event_times(snaps)["alignment_time"][r]
    np.testing.assert_array_equal(from_dict.series["n_directions"], snaps["n_directions"][r])
    np.testing.assert_allclose(np.linalg.norm(from_dict.directions(), axis=-1), 1.0, rtol=1e-12)
    assert from_dict.constants["extremal_u"].shape[0] == int(ctx.extremal.valid_E[r].sum())
    # the results store's layout: dims (run, snapshot, neuron, coord), run ids as coordinate,
    # NaN-padded snapshots at the end (merged chunks of different lengths)
    dims = ("run", "snapshot", "neuron", "coord")
    pad = {
        k: np.concatenate([v, np.full_like(v[:, :3], np.nan)], 1)
        for k, v in snaps.items()
        if v.dtype.kind == "f"
    }
    ds = xr.Dataset(
        {k: (dims[: v.ndim], v) for k, v in pad.items()}
        | {"beta_hat": (("run", "coord_ols"), np.asarray(ctx.ref.beta_hat))},
        coords={"run": 100 + np.arange(snaps["loss"].shape[0])},
    )
    from_ds = trajectory.load_run(ds, r)
    by_id = trajectory.from_dataset(ds, run_id=100 + r)
    for t in (from_ds, by_id):
        np.testing.assert_array_equal(t.time_K, TIMES)
        np.testing.assert_array_equal(t.series["aligned_fraction"], snaps["aligned_fraction"][r])
        np.testing.assert_array_equal(t.neurons["neuron_w"], snaps["neuron_w"][r])
        assert t.events == from_dict.events
        np.testing.assert_array_equal(t.constants["beta_hat"], ctx.ref.beta_hat[r])
    assert "aligned_fraction" in from_dict.table(every=40)
