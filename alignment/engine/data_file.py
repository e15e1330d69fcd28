"""A data set a user brings (DESIGN.md "Data sets a user brings"): an ``.npz`` with ``x``
(N x d) and ``y`` (N), optionally ``x_test`` and ``y_test``; every shape, dtype, label value and
non-finite entry checked on the host before any compute, with a one-line ValueError naming it.
Labels are 0/1 (or -1/+1, mapped to 0/1), or with ``real`` any finite targets.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np


def _labels(y: np.ndarray, where: str, real: bool = False) -> np.ndarray:
    if y.ndim != 1:
        raise ValueError(f"{where} must be 1-D (one label per row), got shape {y.shape}")
    if y.dtype.kind not in "iubf":
        raise ValueError(f"{where} must be numeric, got dtype {y.dtype}")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ValueError(f"{where} has a non-finite entry at row {bad[0]}")
    if real:  # regression targets: any finite values
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


NPZ_MAGIC = b"PK\x03\x04"  # an npz is a zip archive of .npy files (numpy.savez)
NPY_MAGIC = b"\x93NUMPY"


def read_arrays(path) -> dict[str, np.ndarray]:
    """The named arrays of an npz file; ValueError naming what the file is instead."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"data file {path} does not exist")
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(NPY_MAGIC):
        raise ValueError(
            f"data file {path} is a single .npy array; save x and y together with "
            "numpy.savez(path, x=x, y=y)"
        )
    if not head.startswith(NPZ_MAGIC):
        what = "empty" if not head else "not an npz archive (numpy.savez writes a zip of arrays)"
        raise ValueError(f"data file {path} is {what}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"data file {path} is a damaged npz ({type(e).__name__}: {e})") from e


def load_file(path, real: bool = False):
    """x, y, x_test, y_test of an npz file (the test arrays None when absent); labels 0/1 (or
    -1/+1, mapped to 0/1), or with ``real`` any finite targets."""
    arrays = read_arrays(path)
    path = Path(path)
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
        raise ValueError(
            f"{path.name}: x_test is {xt.shape} and y_test {yt.shape}; they must "
            f"have {x.shape[1]} columns and one label per row"
        )
    return x, y, xt, yt
