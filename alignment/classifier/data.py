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

from pathlib import Path
from typing import NamedTuple

import numpy as np

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


def _labels(y: np.ndarray, where: str, real: bool = False) -> np.ndarray:
    if y.ndim != 1:
        raise ValueError(f"{where} must be 1-D (one label per row), got shape {y.shape}")
    if y.dtype.kind not in "iubf":
        raise ValueError(f"{where} must be numeric, got dtype {y.dtype}")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ValueError(f"{where} has a non-finite entry at row {bad[0]}")
    if real:  # regression targets (the two_layer family): any finite values
        return y.astype(np.float64)
    values = set(np.unique(y).tolist())
    if values <= {0, 1}:
        return y.astype(np.int64)
    if values <= {-1, 1}:
        return (y > 0).astype(np.int64)
    raise ValueError(f"{where} holds labels {sorted(values)[:5]}: allowed are 0/1 or -1/+1")


def _inputs(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{where} must be 2-D (N x d), got shape {x.shape}")
    if x.dtype.kind not in "iuf":
        raise ValueError(f"{where} must be numeric, got dtype {x.dtype}")
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        raise ValueError(f"{where} has a non-finite entry at row {bad[0][0]}, column {bad[0][1]}")
    return x.astype(np.float64)


def load_file(path, real: bool = False):
    """x, y, x_test, y_test of an npz file (the test arrays None when absent); labels 0/1 (or
    -1/+1, mapped to 0/1), or with ``real`` any finite targets."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"data file {path} is not a readable npz ({e})") from e
    missing = [k for k in ("x", "y") if k not in arrays]
    if missing:
        raise ValueError(f"data file {path} lacks {missing} (it needs x and y)")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise ValueError(f"data file {path} must hold both x_test and y_test or neither")
    x, y = _inputs(arrays["x"], f"{path.name}: x"), _labels(arrays["y"], f"{path.name}: y", real)
    if len(y) != len(x):
        raise ValueError(f"{path.name}: x has {len(x)} rows but y has {len(y)} labels")
    if "x_test" not in arrays:
        return x, y, None, None
    xt, yt = _inputs(arrays["x_test"], f"{path.name}: x_test"), None
    yt = _labels(arrays["y_test"], f"{path.name}: y_test", real)
    if xt.shape[1] != x.shape[1] or len(yt) != len(xt):
        raise ValueError(f"{path.name}: x_test is {xt.shape} and y_test {yt.shape}; they must "
                         f"have {x.shape[1]} columns and one label per row")  # fmt: skip
    return x, y, xt, yt


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
