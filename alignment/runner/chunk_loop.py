"""The one chunk loop: a chunk's compiled calls, a checkpoint after each, resume in a new process.

Every job trains a chunk through :func:`run`. The job supplies a :class:`ChunkTask`; its carried
state is one pytree, ``(book, state)``: ``book`` nested dicts of host arrays (the position, the
snapshots so far, whatever the job keeps between calls) and ``state`` the lanes' TrainState
(device arrays). After every :meth:`ChunkTask.advance` the whole pair is saved to the chunk's
checkpoint (``checkpoint.Store``); a new process reads it back, rebuilds ``state`` against the
task's :meth:`ChunkTask.template` for that position, and, the programs being deterministic,
ends with the same results as an uninterrupted run. An unusable checkpoint is reported in one
log line and the chunk starts over.
"""

from __future__ import annotations

from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from alignment.runner import checkpoint

Book = dict  # nested dicts of host arrays and scalars (what a checkpoint stores)


class ChunkTask(Protocol):
    """One chunk of a job as the chunk loop drives it (pure steps on ``(book, state)``)."""

    def fresh(self) -> tuple[Book, Any]: ...  # the position before the first call

    def template(self, book: Book) -> Any: ...  # a state of the structure saved at ``book``

    def done(self, book: Book) -> bool: ...

    def advance(self, book: Book, state) -> tuple[Book, Any]: ...  # one compiled call (or

    # the bookkeeping between two, such as a round's verdicts)

    def dataset(self, book: Book, state): ...  # the chunk file (an xarray Dataset)

    def progress(self, book: Book) -> tuple[float, str]: ...  # how far (0..1), and a status


def run(task: ChunkTask, store=None, index: int = 0, on_step=None):
    """Trains a chunk to its end (:func:`train`); returns the task's dataset."""
    return task.dataset(*train(task, store, index, on_step))


def train(task: ChunkTask, store=None, index: int = 0, on_step=None) -> tuple[Book, Any]:
    """Resumes from ``store`` (a ``checkpoint.Store`` or None), advances the task until it is
    done, saving after every step; ``on_step(fraction, status)`` (a progress display) after
    each step and on resume. Returns the final (book, state)."""
    book, state = resume(task, store, index)
    if on_step is not None:
        on_step(*task.progress(book))
    while not task.done(book):
        book, state = task.advance(book, state)
        if store is not None:
            store.save({"book": book, "state": state_leaves(state)})
        if on_step is not None:
            on_step(*task.progress(book))
    return book, state


def resume(task: ChunkTask, store, index: int) -> tuple[Book, Any]:
    """(book, state) where an earlier process left the chunk, or the task's fresh ones."""
    try:
        tree = None if store is None else store.load()
        if tree is not None:
            book = tree["book"]
            state = state_from(tree.get("state", {}), task.template(book))
            logging.info("chunk %d: resumed from its checkpoint", index)
            return book, state
    except (checkpoint.CheckpointError, KeyError, ValueError, TypeError) as e:
        logging.warning("chunk %d: checkpoint not used (%s); starting it over", index, e)
    return task.fresh()


def state_leaves(state) -> dict[str, jax.Array]:
    """A state pytree's leaves keyed for a checkpoint (the inverse of :func:`state_from`)."""
    return {f"{j:04d}": x for j, x in enumerate(jax.tree_util.tree_leaves(state))}


def state_from(tree: dict, template):
    """A state pytree from a checkpoint's leaves, checked against ``template``'s structure."""
    leaves, treedef = jax.tree_util.tree_flatten(template)
    if len(tree) != len(leaves):
        raise checkpoint.CheckpointError(f"{len(tree)} state arrays, expected {len(leaves)}")
    saved = [np.asarray(tree[f"{i:04d}"]) for i in range(len(leaves))]
    for i, (s, t) in enumerate(zip(saved, leaves, strict=True)):
        if s.shape != t.shape or s.dtype != t.dtype:
            raise checkpoint.CheckpointError(
                f"state array {i} is {s.dtype}{list(s.shape)}, expected {t.dtype}{list(t.shape)}"
            )
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(s) for s in saved])


def snapshot_calls(times, per_call: int) -> list[np.ndarray]:
    """Cuts a time grid into calls of exactly ``per_call`` snapshots (the last one padded by
    repeating its final time), so every call of a program reuses one compiled scan length."""
    times = np.asarray(times, np.float64)
    calls = []
    for start in range(0, len(times), per_call):
        part = times[start : start + per_call]
        calls.append(np.concatenate([part, np.full(per_call - len(part), part[-1])]))
    return calls


def host_snapshots(tree) -> dict[str, np.ndarray]:
    """Snapshots on the host; integer and bool records as float64 (NaN marks absent)."""
    out = {}
    for k, v in jax.device_get(tree).items():
        v = np.asarray(v)
        out[k] = v.astype(np.float64) if v.dtype.kind in "iub" else v
    return out


def joined(book_snaps: dict, new: dict) -> dict:
    """Snapshots so far (run x snapshot, possibly empty) with one call's ``new`` appended."""
    if not book_snaps:
        return dict(new)
    return {k: np.concatenate([book_snaps[k], new[k]], axis=1) for k in new}
