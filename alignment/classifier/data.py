"""Labelled data for the classifier family (DESIGN.md section 4 and "Data sets a user brings").

Host-side numpy, checked before any compute:

- ``digits``: the 1797 8x8 images shipped inside scikit-learn, label = digit mod 2 (class 0 =
  even digits);
- ``file``: an ``.npz`` with ``x`` (N x d) and ``y`` (N) and optionally ``x_test``, ``y_test``;
  labels 0/1 or -1/+1 (mapped to 0/1);
- ``sign``: the sign of a linear teacher on Gaussian inputs, each label flipped with
  probability ``flip`` (seeded).

:func:`split` takes the training block (the first n rows of a seeded permutation: nested in n;
permutation seed 0 keeps the file's order), the test set (the file's, or the remaining rows)
and standardizes both with the training block's per-pixel mean and std (eps = 1e-9).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from alignment.engine.data_file import load_file

__all__ = ["SOURCES", "Split", "digits", "load_file", "sign_teacher", "split"]
SOURCES = ("digits", "file", "sign")
STD_EPS = 1e-9


class Split(NamedTuple):
    x_train: np.ndarray  # (n, d) float64, standardized
    y_train: np.ndarray  # (n,) int 0/1
    x_test: np.ndarray  # (T, d)
    y_test: np.ndarray  # (T,)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: x (1797, 64) float64 pixels, y = digit mod 2."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data.astype(np.float64), (data.target % 2).astype(np.int64)


def sign_teacher(num: int, d: int, flip: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inputs, label = [<beta, x> > 0] for a random unit beta, flipped w.p. ``flip``."""
    rng = np.random.default_rng(seed)
    beta = rng.standard_normal(d)
    x = rng.standard_normal((num, d))
    y = (x @ beta > 0).astype(np.int64)
    return x, np.where(rng.random(num) < flip, 1 - y, y)


def split(x, y, n_train: int, perm_seed: int, x_test=None, y_test=None) -> Split:
    """The training block (first n_train of a seeded permutation), the test set, standardized
    with the training block's statistics."""
    top = len(x) - (x_test is None)  # without a test set, at least one row is left for it
    if not 1 <= n_train <= top:
        raise ValueError(f"n_train={n_train} must be in [1, {top}] for {len(x)} rows")
    rng = np.random.default_rng(perm_seed)
    order = np.arange(len(x)) if perm_seed == 0 else rng.permutation(len(x))
    train, rest = order[:n_train], order[n_train:]
    xt, yt = (x[rest], y[rest]) if x_test is None else (x_test, y_test)
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    scale = 1.0 / (std + STD_EPS)
    return Split((x[train] - mean) * scale, y[train], (xt - mean) * scale, yt)
