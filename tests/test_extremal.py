"""Extremal vectors of G_n against independent ground truth (closed form, brute-force scans)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alignment.two_layer import data, extremal

F64 = jnp.float64


@functools.cache
def _finder(num_starts: int):
    """One compiled finder per start count, vmapped over data sets (shared by the tests)."""
    find = functools.partial(extremal.find_extremal, num_starts=num_starts)
    return jax.jit(jax.vmap(find))


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _datasets_jit(keys, spec, n, n_pad, sigma):
    def draw(k):
        return data.make_data(k, spec, n, n_pad, sigma, n_test=2, dtype=F64)[0]

    return jax.vmap(draw)(keys)


def _datasets(spec, n, n_pad, sigma, seeds):
    """Stacked training sets (float64) for several seeds."""
    keys = jnp.stack([jax.random.key(s) for s in seeds])
    return jax.device_get(_datasets_jit(keys, spec, n, n_pad, jnp.asarray(sigma, F64)))


def _find(x_RxNxD, train, num_starts=256, seed=7):
    """Every test uses 256 starts and (16, 2) or (16, 3) inputs: two compiles in all."""
    keys = jax.random.split(jax.random.key(seed), x_RxNxD.shape[0])
    return jax.device_get(_finder(num_starts)(keys, x_RxNxD, train.y_N, train.mask_N, train.n))


def test_symmetric_data_has_exactly_the_two_linear_extrema():
    # On (x, y), (-x, -y) pairs y relu(<w,x>) - y relu(-<w,x>) = y <w,x>, so G_n is linear:
    # its only critical points on the sphere are +-X^T y / ||X^T y||.
    train = _datasets(data.DataSpec("symmetric", d=3), 14, 16, 0.5, seeds=[0, 1, 2])
    ext = _find(train.x_NxD, train)
    for r in range(3):
        assert ext.valid_E[r].sum() == 2
        v = np.asarray(train.x_NxD[r].T @ (train.y_N[r] * train.mask_N[r]))
        v = v / np.linalg.norm(v)
        # 1e-4 rad is the bound; in float64 the snapped smooth extrema are exact to
        # rounding (~1e-15), so this leaves a wide margin without hiding a wrong direction.
        u_max, u_min = ext.u_ExD[r, 0], ext.u_ExD[r, 1]
        assert ext.is_max_E[r, 0] and not ext.is_max_E[r, 1]
        assert extremal.angle(jnp.asarray(u_max), jnp.asarray(v)) < 1e-4
        assert extremal.angle(jnp.asarray(u_min), jnp.asarray(-v)) < 1e-4
        # G_n(w) = sum over the n/2 pairs of y <w, x> = <X^T y, w> / (2n), so G_n(+-v) is
        # +-||X^T y|| / (2n); rtol 1e-12 is float64 rounding of these short sums
        g_max = np.linalg.norm(train.x_NxD[r].T @ train.y_N[r]) / (2 * float(train.n[r]))
        np.testing.assert_allclose(ext.g_E[r, :2], [g_max, -g_max], rtol=1e-12)


def _circle_extrema(x_NxD, y_N, mask_N, n, num=200_000):
    """Brute force: strict local maxima/minima of G_n on a grid of the circle, with G_n != 0.

    Returns (angle, is_max, basin) rows, basin = distance between the neighbouring extrema of
    the other kind: the arc of starts that gradient ascent (descent) takes to this extremum.
    """
    th = np.linspace(-np.pi, np.pi, num, endpoint=False)
    u = np.stack([np.cos(th), np.sin(th)], axis=1)
    g = np.maximum(u @ np.asarray(x_NxD).T, 0.0) @ np.asarray(y_N * mask_N) / float(n)
    prev, nxt = np.roll(g, 1), np.roll(g, -1)
    big = np.abs(g) > 1e-9 * np.max(np.abs(g))
    is_max = (g > prev) & (g >= nxt) & big
    is_min = (g < prev) & (g <= nxt) & big
    idx = np.flatnonzero(is_max | is_min)
    ang = th[idx]
    # neighbours of the other kind along the circle (extrema alternate on a circle)
    gap = np.diff(np.concatenate([ang, ang[:1] + 2 * np.pi]))
    basin = gap + np.roll(gap, 1)
    return ang, is_max[idx], basin


def _arc(a, b):
    return np.abs((a - b + np.pi) % (2 * np.pi) - np.pi)


@pytest.mark.parametrize(
    "spec, bias, sigma",
    [
        (data.DataSpec("linear", d=2), False, 2.0),  # noisy labels: many extrema in 2-D
        (data.DataSpec("xor", d=2), False, 0.0),
        (data.DataSpec("linear", d=1), True, 2.0),  # 1-D inputs with bias: (w, b) on a circle
        (data.DataSpec("stewart", d=1), True, 0.0),
    ],
    ids=["linear2d", "xor2d", "linear1d_bias", "stewart1d_bias"],
)
def test_circle_matches_brute_force_scan(spec, bias, sigma):
    seeds = [0, 1, 2, 3]
    train = _datasets(spec, 12, 16, sigma, seeds)
    x = jax.vmap(lambda x: data.augment(x, bias))(train.x_NxD)
    ext = _find(x, train)
    for r in range(len(seeds)):
        ang, is_max, basin = _circle_extrema(x[r], train.y_N[r], train.mask_N[r], train.n[r])
        keep = ext.valid_E[r]
        u = ext.u_ExD[r][keep]
        found = np.arctan2(u[:, 1], u[:, 0])
        found_max = ext.is_max_E[r][keep]
        # Grid step 2 pi / 2e5 = 3e-5 rad; 1e-3 rad allows for the grid and for a kink extremum
        # approached from one side, and is far below the spacing of distinct extrema here.
        tol = 1e-3
        for a, mx in zip(found, found_max, strict=True):
            near = _arc(ang, a) < tol
            assert np.any(near & (is_max == mx)), f"run {r}: spurious extremum at {a:.4f}"
        # Every extremum whose basin is wider than 0.3 rad must be found: 256 random starts
        # miss such a basin with probability (1 - 0.3 / 2pi)^256 < 1e-5. Narrower basins (tiny
        # wiggles of G_n) may legitimately be missed by random starts.
        for a, mx, w in zip(ang, is_max, basin, strict=True):
            if w > 0.3:
                near = _arc(found, a) < tol
                assert np.any(near & (found_max == mx)), f"run {r}: missed extremum at {a:.4f}"
        # and the values are G_n at the returned vectors
        g = np.maximum(u @ np.asarray(x[r]).T, 0) @ np.asarray(train.y_N[r] * train.mask_N[r])
        np.testing.assert_allclose(ext.g_E[r][keep], g / float(train.n[r]), rtol=1e-10)


def test_padded_samples_do_not_count():
    # Padding rows filled with large garbage must not change the result when masked out.
    train = _datasets(data.DataSpec("linear", d=3), 10, 16, 1.0, seeds=[5])
    noise = jax.random.normal(jax.random.key(9), train.x_NxD.shape, F64) * 10
    pad = (train.mask_N == 0)[..., None]
    garbage = train._replace(
        x_NxD=jnp.where(pad, noise, train.x_NxD),
        y_N=jnp.where(pad[..., 0], 5.0, train.y_N),
    )
    clean = _find(train.x_NxD, train)
    dirty = _find(garbage.x_NxD, garbage)
    assert clean.valid_E.sum() >= 2
    np.testing.assert_array_equal(clean.valid_E, dirty.valid_E)
    # the two computations see different padded rows, but every quantity they use is masked:
    # agreement to rounding (1e-9 on unit vectors; float64) shows the padding never entered
    np.testing.assert_allclose(clean.u_ExD, dirty.u_ExD, atol=1e-9)
    # and the garbage would matter if it were counted (so the check above can fail)
    unmasked = garbage._replace(mask_N=jnp.ones_like(garbage.mask_N))
    other = _find(garbage.x_NxD, unmasked)
    assert not np.allclose(other.u_ExD[0, 0], clean.u_ExD[0, 0], atol=1e-3)
