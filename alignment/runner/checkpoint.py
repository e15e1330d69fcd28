"""Checkpoints inside a chunk: what the verdict loop carries, saved after every compiled call.

One file per unfinished chunk, ``WORKDIR/checkpoints/chunk_NNNNN.npz`` (plain npz, no pickle),
written atomically after each compiled call of the verdict loop and removed once the chunk's
file exists, so a kill at any moment loses at most one call's work. Keys are paths of nested
dicts (``loop/round``, ``snaps/loss``, ``state/0003``, ``meta/config_hash``). A file that cannot
be read, lacks a key or whose provenance differs raises :class:`CheckpointError`; the sweep
then reports it in one line and starts that chunk over.
"""

from __future__ import annotations

import contextlib
import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from alignment.runner import provenance, results

CHECKPOINT_DIR = "checkpoints"


class CheckpointError(Exception):
    """A checkpoint that cannot be used (unreadable, incomplete, or of other config/code)."""


def checkpoint_path(workdir, index: int) -> Path:
    return Path(workdir) / CHECKPOINT_DIR / f"chunk_{index:05d}.npz"


def flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """Nested dicts of arrays (or scalars) as one flat dict with '/'-joined keys."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if "/" in str(key):
            raise ValueError(f"checkpoint key {name!r} must not contain '/'")
        if isinstance(value, dict):
            out |= flatten(value, name + "/")
        else:
            out[name] = np.asarray(value)
    return out


def unflatten(flat: dict[str, np.ndarray]) -> dict:
    """The inverse of :func:`flatten` (0-d arrays stay 0-d arrays)."""
    out: dict = {}
    for name, value in flat.items():
        *parents, leaf = name.split("/")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def save(path, tree: dict) -> None:
    """Writes nested dicts of arrays atomically (fsync'ed file, then renamed)."""
    flat = flatten(tree)
    if any(v.dtype == object for v in flat.values()):
        raise ValueError("checkpoints hold numeric, bool and string arrays only")
    with results.atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **flat)


def load(path) -> dict:
    """Reads a checkpoint back; CheckpointError if it is unreadable (truncated, corrupted)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return unflatten({k: npz[k] for k in npz.files})
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path} is unreadable ({type(e).__name__}: {e})") from e


class Store:
    """The checkpoint of one chunk: ``load`` what an earlier process left, ``save`` after each
    call, ``remove`` once the chunk file exists. ``meta`` (provenance) must match on load, but
    for the fields that only record it (``provenance.RECORDED_ONLY``: the git revision).

    ``after_save`` (tests: simulate a kill) is called with the number of saves so far.
    """

    def __init__(self, path, meta: dict[str, str], after_save: Callable[[int], None] | None = None):
        self.path, self.meta, self.after_save = Path(path), meta, after_save
        self.saves, self.seconds = 0, 0.0  # saves made and the wall time they took

    def load(self) -> dict | None:
        """The saved tree (without its meta), None if there is none; CheckpointError if it
        is unusable."""
        if not self.path.exists():
            return None
        tree = load(self.path)
        meta = {k: str(v) for k, v in tree.pop("meta", {}).items()}
        for key, value in self.meta.items():
            if key not in provenance.RECORDED_ONLY and meta.get(key) != value:
                raise CheckpointError(
                    f"{self.path} was written with {key}={meta.get(key)!r}, now {value!r}"
                )
        return tree

    def save(self, tree: dict) -> None:
        """Saves ``tree`` (host or device arrays: copied to the host here, inside the timing)."""
        start = time.perf_counter()
        save(self.path, {**tree, "meta": self.meta})
        self.seconds += time.perf_counter() - start
        self.saves += 1
        if self.after_save is not None:
            self.after_save(self.saves)

    def remove(self) -> None:
        if self.path.exists():
            os.remove(self.path)
            results.fsync_dir(self.path.parent)
        with contextlib.suppress(OSError):  # the folder goes once no chunk is unfinished
            self.path.parent.rmdir()
