"""Seeded data models, generated on device, padded to a static size with a sample mask.

Sample i of a data set is drawn from ``fold_in(key, i)``, so the data set of size n is a prefix
of the one of size n' > n with the same key, whatever the padding: padded and unpadded runs see
identical samples, and runs at different n are nested (as in a threshold experiment).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

DATA_MODELS = ("linear", "symmetric", "three_points", "stewart", "xor", "separated", "file")
X_DISTS = ("gaussian", "ball")

THREE_POINTS_X = (-0.75, -0.5, 0.125)
THREE_POINTS_Y = (1.1, 0.1, 0.8)
STEWART_KNOTS_X = (-1.0, -0.7, -0.55, -0.4, 0.0, 0.5, 0.6, 0.7, 1.0)
STEWART_KNOTS_Y = (0.0, 0.7, 0.5, 1.0, 0.0, 1.0, 0.6, 0.7, 0.0)
# Random draws are made in float64 whatever the run's dtype (float64 is enabled at import), so
# float32 and float64 runs of the same seed see the same data up to rounding to their dtype.
DRAW_DTYPE = jnp.float64
SEPARATED_RADIUS = 0.4  # < sqrt(2) - 1, so same-label inputs stay positively correlated


class Dataset(NamedTuple):
    """Padded samples: rows with mask 0 are padding and never enter a loss or a statistic."""

    x_NxD: jax.Array
    y_N: jax.Array  # targets, with noise
    y_clean_N: jax.Array  # noise-free targets (excess risk)
    mask_N: jax.Array  # 1.0 for real samples, 0.0 for padding
    n: jax.Array  # number of real samples (scalar)


@dataclasses.dataclass(frozen=True, eq=False)
class FileArrays:
    """A user's data set (data model ``file``): x (N, d), real targets y (N), optionally a test
    set; equal and hashed by content (it is part of a program's compile-cache key)."""

    x_NxD: np.ndarray
    y_N: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    path: str = ""  # where it was read from (messages only)

    @functools.cached_property
    def digest(self) -> str:
        h = hashlib.sha256()
        for a in (self.x_NxD, self.y_N, self.x_test, self.y_test):
            a = np.ascontiguousarray(np.zeros(0) if a is None else a)
            h.update(f"{a.shape}{a.dtype}".encode() + a.tobytes())
        return h.hexdigest()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __eq__(self, other) -> bool:
        return isinstance(other, FileArrays) and self.digest == other.digest

    def check_sizes(self, n_max: int, n_test: int) -> None:
        """Training sets of up to n_max rows and n_test test rows fit (ValueError if not)."""
        rows, name = len(self.x_NxD), self.path or "the data file"
        if self.x_test is not None:
            if n_test > len(self.x_test):
                raise ValueError(
                    f"n_test={n_test} exceeds the {len(self.x_test)} test rows of {name}"
                )
            top = rows
        else:
            top = rows - n_test  # the last n_test rows of each run's permutation are its test set
            if top < 1:
                raise ValueError(
                    f"n_test={n_test} leaves none of the {rows} rows of {name} "
                    "for training (it has no x_test, y_test)"
                )
        if n_max > top:
            raise ValueError(
                f"n={n_max} exceeds the {top} rows of {name} left for training "
                f"({rows} rows, n_test={n_test})"
            )


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """What is static about a data model (shapes and names); n and sigma vary per run."""

    name: str = "linear"
    d: int = 5
    x_dist: str = "gaussian"  # linear teacher inputs: N(0, I_d) or uniform in the unit ball
    symmetric: bool = False  # double the data set with (-x, -y)
    spread: float = 0.1  # xor: std of the inputs around their cluster centre
    file: FileArrays | None = None  # data model file: the user's arrays

    @property
    def is_symmetric(self) -> bool:
        return self.symmetric or self.name == "symmetric"

    def validate(self, n: int | None = None, sigma: float | None = None) -> None:
        """Raises ValueError naming the bad value before any compute."""
        if self.name not in DATA_MODELS:
            raise ValueError(f"data={self.name!r} is not one of {DATA_MODELS}")
        if self.x_dist not in X_DISTS:
            raise ValueError(f"x_dist={self.x_dist!r} is not one of {X_DISTS}")
        if not isinstance(self.d, int | np.integer) or self.d < 1:
            raise ValueError(f"d={self.d!r} must be a positive integer")
        if self.name in ("three_points", "stewart") and self.d != 1:
            raise ValueError(f"data={self.name!r} has 1-D inputs: d must be 1, got d={self.d}")
        if self.name == "xor" and self.d < 2:
            raise ValueError(f"data='xor' needs d >= 2, got d={self.d}")
        if self.spread < 0:
            raise ValueError(f"spread={self.spread} must be >= 0")
        if self.name == "file":
            if self.file is None:
                raise ValueError("data='file' needs data_file=PATH (an npz with x and y)")
            if self.d != self.file.x_NxD.shape[1]:
                raise ValueError(
                    f"d={self.d} does not match the {self.file.x_NxD.shape[1]} "
                    f"columns of {self.file.path}: set d to it"
                )
            if self.is_symmetric:
                raise ValueError("data='file' cannot be symmetric (the file gives the data)")
        if n is not None:
            if not isinstance(n, int | np.integer) or n <= 0:
                raise ValueError(f"n={n!r} must be a positive integer")
            if self.name == "three_points" and n != (6 if self.is_symmetric else 3):
                raise ValueError(f"data='three_points' has exactly 3 samples, got n={n}")
            if self.is_symmetric and n % 2:
                raise ValueError(f"symmetric data has pairs (x, -x): n must be even, got n={n}")
        if sigma is not None and (not np.isfinite(sigma) or sigma < 0):
            raise ValueError(f"sigma={sigma!r} must be finite and >= 0")


def _unit(v):
    return v / jnp.linalg.norm(v)


def _sample_keys(k, both: bool):
    """``split(k)``, or only its first key where the model draws from one: ``split(k, 1)[0]``
    equals ``split(k)[0]`` (threefry's partitionable split hashes each key's own counter;
    tests/test_data.py checks it) and compiles at about half the cost."""
    if both:
        return tuple(jax.random.split(k))
    return jax.random.split(k, 1)[0], None


def _sample(k, i, spec: DataSpec, beta_D, dtype):
    """Sample i from its own key ``k = fold_in(key, i)``: (x, clean target)."""
    d = spec.d
    name = spec.name
    ball = name in ("linear", "symmetric") and spec.x_dist == "ball"
    kx, kz = _sample_keys(k, ball or name == "xor")
    if name in ("linear", "symmetric"):
        g = jax.random.normal(kx, (d,), dtype)
        if ball:  # uniform in the unit ball: direction times U^(1/d)
            r = jax.random.uniform(kz, (), dtype) ** (1.0 / d)
            g = _unit(g) * r
        return g, jnp.zeros((), dtype)  # labels are set by the caller, in the run's dtype
    if name == "three_points":
        x = jnp.asarray(THREE_POINTS_X, dtype)[i % 3]
        return x[None], jnp.asarray(THREE_POINTS_Y, dtype)[i % 3]
    if name == "stewart":
        x = jax.random.uniform(kx, (1,), dtype, -1.0, 1.0)
        y = jnp.interp(
            x[0], jnp.asarray(STEWART_KNOTS_X, dtype), jnp.asarray(STEWART_KNOTS_Y, dtype)
        )
        return x, y
    if name == "xor":  # centres +-e1 (label +1) and +-e2 (label -1): XOR rotated by 45 degrees
        c = jax.random.randint(kx, (), 0, 4)
        centre = jnp.zeros((d,), dtype).at[c % 2].set(jnp.where(c < 2, 1.0, -1.0))
        x = centre + spec.spread * jax.random.normal(kz, (d,), dtype)
        return x, jnp.where(c % 2 == 0, 1.0, -1.0).astype(dtype)
    if name == "separated":  # x = y (mu + xi), ||xi|| <= SEPARATED_RADIUS
        ky, kxi, kr = jax.random.split(kx, 3)
        y = jnp.where(jax.random.bernoulli(ky, 0.5), 1.0, -1.0).astype(dtype)
        xi = _unit(jax.random.normal(kxi, (d,), dtype))
        xi = xi * SEPARATED_RADIUS * jax.random.uniform(kr, (), dtype) ** (1.0 / d)
        return y * (beta_D + xi), y
    raise ValueError(f"data={name!r} is not one of {DATA_MODELS}")


def _draw_rows(key_R, idx_R, spec: DataSpec, beta_D):
    """Rows (key, i): sample i of the set drawn from ``key`` and its noise, in DRAW_DTYPE.

    Every row of every set is one vmapped draw, so a program holds each random draw's code
    once (the threefry rounds are most of a data set's compile time), whatever the sets.
    """
    rows = idx_R.shape[0]
    # one fold_in for the sample keys fold_in(key, i) and the noise keys fold_in(key, -1 - i)
    folded = jax.vmap(jax.random.fold_in)(
        jnp.concatenate([key_R, key_R]), jnp.concatenate([idx_R, -1 - idx_R])
    )
    beta = beta_D.astype(DRAW_DTYPE)
    x, y_clean = jax.vmap(lambda k, i: _sample(k, i, spec, beta, DRAW_DTYPE))(folded[:rows], idx_R)
    noise = jax.vmap(lambda k: jax.random.normal(k, (), DRAW_DTYPE))(folded[rows:])
    return x, y_clean, noise


def _as_set(spec, beta_D, drawn, base_rows, n, sigma, dtype) -> Dataset:
    """The first ``n`` of ``base_rows`` drawn rows as a set (symmetric: [base, negated])."""
    x, y_clean, noise = (v.astype(dtype) for v in drawn)
    if spec.name in ("linear", "symmetric"):
        y_clean = x @ beta_D
    y = y_clean + sigma * noise if spec.name in ("linear", "symmetric") else y_clean
    half = spec.is_symmetric
    mask = (jnp.arange(base_rows) < (n // 2 if half else n)).astype(dtype)
    if half:
        x, y, y_clean, mask = (jnp.concatenate([v, -v]) for v in (x, y, y_clean, mask))
        mask = jnp.abs(mask)
    x = x * mask[:, None]
    return Dataset(x, y * mask, y_clean * mask, mask, jnp.asarray(n, dtype))


def make_data(
    key: jax.Array,
    spec: DataSpec,
    n: int | jax.Array,
    n_pad: int,
    sigma: float | jax.Array,
    n_test: int,
    dtype=jnp.float32,
) -> tuple[Dataset, Dataset, jax.Array]:
    """Training set (n samples padded to n_pad), test set (n_test fresh samples), teacher.

    ``n`` and ``sigma`` may be traced (one per vmapped run); ``n_pad`` and ``n_test`` are static.
    The teacher is the unit vector beta* of the linear model (or the class mean direction for
    ``separated``; e1 for the other models). Fixed data sets (three_points) reuse the training
    points as the test set. Symmetric sets are [base half, negated half].
    """
    k_teacher, k_train, k_test = jax.random.split(key, 3)
    if spec.name == "file":
        return _from_file(k_train, spec, n, n_pad, sigma, n_test, dtype)
    if spec.name in ("linear", "symmetric", "separated"):
        beta_D = _unit(jax.random.normal(k_teacher, (spec.d,), DRAW_DTYPE)).astype(dtype)
    else:
        beta_D = jnp.zeros((spec.d,), dtype).at[0].set(1.0)
    if spec.is_symmetric and n_pad % 2:
        raise ValueError(f"symmetric data needs an even padded size, got n_pad={n_pad}")
    split = 2 if spec.is_symmetric else 1
    rows_train, rows_test = n_pad // split, n_test // split
    k_test = k_train if spec.name == "three_points" else k_test
    key_R = jnp.concatenate(
        [jnp.broadcast_to(k, (r,)) for k, r in ((k_train, rows_train), (k_test, rows_test))]
    )
    idx_R = jnp.concatenate([jnp.arange(rows_train), jnp.arange(rows_test)])
    drawn = _draw_rows(key_R, idx_R, spec, beta_D)
    first = [v[:rows_train] for v in drawn]
    rest = [v[rows_train:] for v in drawn]
    sigma_test = 0.0 if spec.name == "three_points" else sigma
    train = _as_set(spec, beta_D, first, rows_train, n, sigma, dtype)
    test = _as_set(spec, beta_D, rest, rows_test, n_test, sigma_test, dtype)
    return train, test, beta_D


def augment(x_NxD: jax.Array, bias: bool) -> jax.Array:
    """Inputs as seen by (w_j, b_j): append a constant 1 when the hidden bias is on."""
    if not bias:
        return x_NxD
    return jnp.concatenate([x_NxD, jnp.ones_like(x_NxD[:, :1])], axis=1)


def _from_file(key, spec: DataSpec, n, n_pad: int, sigma, n_test: int, dtype):
    """A user's data: the first n rows of a seeded permutation (nested in n), padded to n_pad;
    test set: the file's first n_test test rows, or the permutation's last n_test rows (never
    in a training set of a valid n). Targets as given (plus sigma noise); teacher e1."""
    f = spec.file
    rows = len(f.x_NxD)
    perm = jax.random.permutation(key, rows)
    x_all, y_all = jnp.asarray(f.x_NxD, dtype), jnp.asarray(f.y_N, dtype)
    idx = perm[jnp.minimum(jnp.arange(n_pad), rows - 1)]  # rows past n are masked out
    mask = (jnp.arange(n_pad) < n).astype(dtype)
    noise = jax.random.normal(jax.random.fold_in(key, 1), (n_pad,), DRAW_DTYPE).astype(dtype)
    y_clean = y_all[idx] * mask
    train = Dataset(
        x_all[idx] * mask[:, None],
        (y_all[idx] + sigma * noise) * mask,
        y_clean,
        mask,
        jnp.asarray(n, dtype),
    )
    if f.x_test is None:
        xt, yt = x_all[perm[rows - n_test :]], y_all[perm[rows - n_test :]]
    else:
        xt, yt = jnp.asarray(f.x_test[:n_test], dtype), jnp.asarray(f.y_test[:n_test], dtype)
    ones = jnp.ones((n_test,), dtype)
    test = Dataset(xt, yt, yt, ones, jnp.asarray(n_test, dtype))
    return train, test, jnp.zeros((spec.d,), dtype).at[0].set(1.0)
