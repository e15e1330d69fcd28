"""Lane gathers and write-backs: the verdict loop's re-batching of the runs still open.

A continuation call takes the open lanes of a chunk's state (:func:`take`, in the order of the
call's layout) and writes them back after the call (:func:`put`). On a CPU both index on the
host: the devices' memory is the host's, so numpy indexing moves no data and compiles nothing;
on an accelerator they are compiled gathers, one program per tree and lane count.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from alignment.engine.sharding import num_runs


@jax.jit
def _take(tree, idx):
    return jax.tree_util.tree_map(lambda x: x[idx], tree)


@jax.jit
def _put(tree, src, part):
    return jax.tree_util.tree_map(functools.partial(_put_leaf, src), tree, part)


def _put_leaf(src, x, y):
    """``x`` with lane i replaced by ``y[src[i]]`` where ``src[i] >= 0`` (numpy or jax)."""
    xp = np if isinstance(x, np.ndarray) else jnp
    has = (src >= 0).reshape(src.shape + (1,) * (x.ndim - 1))
    return xp.where(has, y[xp.maximum(src, 0)], x)


def gathers_on_host() -> bool:
    """Whether take and put index on the host: on a CPU the devices' memory is the host's, so
    numpy indexing moves no data and compiles nothing (a compiled gather costs ~0.1 s of
    compile per tree and lane count); on an accelerator they run as compiled gathers."""
    return jax.default_backend() == "cpu"


def _on_host(fn, *trees):
    """``fn`` on numpy copies of ``trees``' leaves, back as (unsharded) jax arrays."""
    host = jax.device_get(trees)
    return jax.device_put(fn(*host))


def take(tree, idx):
    """Lanes ``idx`` of every leaf (a gather: for re-batching undecided runs); compiled, one
    program per tree and lane count (not one per leaf), unless :func:`gathers_on_host`."""
    idx = np.asarray(idx)
    if gathers_on_host():
        return _on_host(lambda t: jax.tree_util.tree_map(lambda x: x[idx], t), tree)
    return _take(tree, jnp.asarray(idx))


def put(tree, idx, part, live=None):
    """``tree`` with lanes ``idx`` replaced by the lanes of ``part`` (as many) where ``live``
    (default: all; the live ``idx`` distinct, e.g. a call's live lanes, ``grid.call_layout``).
    A gather, not a scatter (no two writes to one lane): compiled, one program per tree and
    lane counts whatever is live, unless :func:`gathers_on_host`."""
    idx = np.asarray(idx)
    live = np.ones(len(idx), bool) if live is None else np.asarray(live, bool)
    src = np.full(num_runs(tree), -1)
    src[idx[live]] = np.flatnonzero(live)
    if gathers_on_host():
        one = functools.partial(_put_leaf, src)
        return _on_host(lambda t, p: jax.tree_util.tree_map(one, t, p), tree, part)
    return _put(tree, jnp.asarray(src), part)
