"""The run axis over several devices, and the process setup for running at scale.

A program call's run axis is split over a 1-D mesh of this process's devices (axis ``runs``)
with ``jax.shard_map``: every device runs the vmapped trainer on its own lanes, with no
communication between devices. (Left to automatic partitioning, the batched ``while_loop`` of
the trainer would all-reduce its predicate across devices at every optimizer step.) The run
count is padded to a multiple of the device count with copies of the last lane; the copies are
dropped from the outputs, so callers never see them.

Every device (and the unsharded program) gets at least two lanes: XLA removes a batch axis of
size one, which changes the order of floating-point sums, so a lone lane rounds differently
from the same run among others. Sharded and unsharded results agree to rounding either way;
but a run that sits at a saddle until rounding noise pushes it off can end with another
verdict when its rounding changes, and avoiding the lone-lane path avoids the commonest
such change (on CPU the training steps then matched bitwise for 2, 3 and 4 lanes a device,
the extremal-vector finder to one ulp).

Processes: ``initialize_distributed`` joins a multi-process job (each process then trains its
share of the grid on its own devices, see ``process_share``). The persistent compilation cache
is ``compile_cache.py``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

import jax
import numpy as np
from absl import logging
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "runs"
MIN_LANES = 2  # lanes per device, at least (see the module docstring)
SHARD_ENV = "ALIGNMENT_SHARD"  # "0" / "false" switches sharding off by default


@functools.cache
def local_mesh() -> Mesh:
    """A 1-D mesh (axis ``runs``) over every device of this process."""
    return Mesh(np.asarray(jax.local_devices()), (AXIS,))


def default_mesh(shard: bool | None = None) -> Mesh | None:
    """The mesh to shard runs over, or None for a plain single-device program.

    ``shard=None`` shards when this process has more than one device, unless the environment
    variable ALIGNMENT_SHARD is "0" or "false".
    """
    if shard is None:
        shard = os.environ.get(SHARD_ENV, "1").lower() not in ("0", "false", "no")
    if not shard or jax.local_device_count() < 2:
        return None
    return local_mesh()


def run_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (run) axis split over the mesh, everything else whole on each device."""
    return NamedSharding(mesh, P(AXIS))


def padded_count(num_runs: int, num_devices: int) -> int:
    """The smallest multiple of ``num_devices`` holding ``num_runs`` and MIN_LANES per device."""
    return max(MIN_LANES, -(-num_runs // num_devices)) * num_devices


def num_runs(tree) -> int:
    """The length of the leading (run) axis shared by every leaf."""
    sizes = {np.shape(x)[0] for x in jax.tree_util.tree_leaves(tree)}
    if len(sizes) != 1:
        raise ValueError(f"leaves disagree on the number of runs: {sorted(sizes)}")
    return sizes.pop()


def _pad_leaf(x, num: int):
    extra = num - x.shape[0]
    tail = jax.numpy.repeat(x[-1:], extra, axis=0)
    return jax.numpy.concatenate([x, tail], axis=0)


@functools.cache
def _padder(num: int, sharding: NamedSharding | None):
    pad = functools.partial(jax.tree_util.tree_map, lambda x: _pad_leaf(x, num))
    return jax.jit(pad, out_shardings=sharding)


def to_runs(tree, mesh: Mesh | None):
    """A pytree with a leading run axis, padded for ``mesh`` and placed on it.

    Pads to ``padded_count`` lanes (mesh None: one device, left where it is). Pad lanes repeat
    the last lane, so they compute something valid (never NaN from zeros) and are dropped by
    ``take_runs``. Arrays already placed and unpadded are returned as they are, so a donated
    state keeps its buffers.
    """
    sharding = None if mesh is None else run_sharding(mesh)
    num = padded_count(num_runs(tree), 1 if mesh is None else mesh.size)
    if num != num_runs(tree):
        return _padder(num, sharding)(tree)
    return tree if sharding is None else jax.device_put(tree, sharding)


@functools.cache
def _taker(num: int):
    return jax.jit(functools.partial(jax.tree_util.tree_map, lambda x: x[:num]))


def take_runs(tree, num: int):
    """The first ``num`` runs of every leaf (drops the pad lanes of ``to_runs``)."""
    if num_runs(tree) == num:
        return tree
    return _taker(num)(tree)


def shard_runs(fn, mesh: Mesh, block: int = 0):
    """``vmap(fn)`` with its run axis split over ``mesh``: each device maps its own lanes (in
    blocks of at most ``block``, :func:`blocked_vmap`; 0: one vmap).

    ``fn`` knows nothing of the mesh and uses no collective, so the replication check is off
    (it would otherwise ask every loop carry made inside ``fn`` to be marked as varying).
    """
    spec = P(AXIS)
    mapped = blocked_vmap(fn, block)
    return jax.shard_map(mapped, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)


def cache_bytes(level: int = 3) -> int:
    """This CPU's cache of ``level`` in bytes, per instance (/sys: the last-level cache when
    the level is absent; 32 MiB for the last level, 1 MiB for L2, where nothing can be read)."""
    found = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        with contextlib.suppress(OSError, ValueError):
            if (index / "type").read_text().strip() == "Instruction":
                continue
            size = (index / "size").read_text().strip()
            units = {"K": 2**10, "M": 2**20, "G": 2**30}
            found[int((index / "level").read_text())] = (
                int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
            )
    if level in found:
        return found[level]
    if found and level > 2:
        return found[max(found)]
    return 32 * 2**20 if level > 2 else 2**20


# A step's working set per lane, in units of ``lane_bytes`` (the m x n preactivations and mask):
# their products and gradients too. On the default job's lanes (d = 5, m = 50, 184 padded
# samples: 72 KiB) the per-lane step time doubles between 6 and 8 lanes a block with a 2 MiB L2,
# i.e. once about 5 x lane_bytes a lane outgrows it (benchmarks/lane_blocks.py, its last table).
WORKING_SET = 5
# Lanes a block at most. The verdict loop continues its open runs in the chunk's own program
# (grid.call_layout), packed into blocks beside idle lanes, and a block computes all its lanes
# while one is live (faithful GD's open runs take different step counts). Without a cap the
# default job's small chunk (n_pad = 32: 65 lanes fit L2) ran its last open runs in one 40-lane
# block, about twice as long; lanes of m = 200, n_pad = 184 in float64, too large for L2, were
# blocked 56 at a time by a 32 MiB last-level cache, and with 9 of 40 live that block took 3.8x
# as long as blocks of 8, while blocks of 4 beat 8 with 40, 9 or 1 live (benchmarks/idle_lanes.py).
# On the whole default job a cap of 4 takes 0.92x the wall time of 8, and 2 0.89x, with
# byte-identical results (benchmarks/block_cap.py); 4 keeps more of a block's per-lane speed
# while every lane is live.
MAX_BLOCK = 4


def lanes_at_once(lane_batch: int | None, lane_bytes: int | None) -> int:
    """How many lanes one vmapped block runs at a time (0: all of them).

    ``lane_batch`` set (an int) wins. Else, on a CPU, as many lanes as keep a step's working
    set (``WORKING_SET`` x ``lane_bytes``, e.g. the m x n preactivations) within a core's L2
    cache, at most ``MAX_BLOCK``: a small-d step is memory-bound on those arrays and runs at
    half the per-lane rate once they spill. Lanes too large for L2 (a wide matmul,
    compute-bound) are blocked by the last-level cache instead, also at most ``MAX_BLOCK``: a
    batched matmul whose output outgrows it runs at under half the per-lane rate (BENCHMARKS.md,
    W2). Smaller blocks also
    keep a slow lane (many steps) from holding fast ones in its while loop: each block loops
    only as long as its own slowest lane.
    """
    if lane_batch is not None:
        return int(lane_batch)
    if not lane_bytes or jax.default_backend() != "cpu":
        return 0
    in_l2 = cache_bytes(2) // (WORKING_SET * int(lane_bytes))
    if in_l2 >= 1:
        return int(min(in_l2, MAX_BLOCK))
    return int(min(max(1, cache_bytes(3) // int(lane_bytes)), MAX_BLOCK))


def even_block(lanes: int, block: int) -> int:
    """The largest block size <= ``block`` that divides ``lanes`` (0: all lanes at once): equal
    blocks need no remainder program, which would double the compiled loop."""
    if block <= 0 or lanes <= block:
        return lanes
    return max(b for b in range(1, block + 1) if lanes % b == 0)


def block_in_call(lanes: int, block: int, mesh: Mesh | None) -> int:
    """Lanes a block runs at once in a call of ``lanes`` mapped by :func:`map_lanes` (blocks
    are contiguous in the run axis, within each device's padded share)."""
    ndev = 1 if mesh is None else mesh.size
    return even_block(padded_count(lanes, ndev) // ndev, block)


def blocked_vmap(fn, block: int):
    """``vmap(fn)`` over the leading (run) axis, run in equal blocks of at most ``block`` lanes
    in one program (``lax.map`` with a batch size, :func:`even_block`; 0, or no more lanes than
    that: one plain vmap)."""
    plain = jax.vmap(fn)

    def run(*args):
        lanes = jax.tree_util.tree_leaves(args)[0].shape[0]
        size = even_block(lanes, block)
        if size == lanes:
            return plain(*args)
        return jax.lax.map(lambda a: fn(*a), args, batch_size=size)

    return run


def map_lanes(fn, mesh: Mesh | None, block: int = 0, name: str | None = None):
    """``fn`` over the run axis: :func:`blocked_vmap` on one device, :func:`shard_runs` over
    ``mesh``; ``name`` is what JAX's compile log and profiles call the program."""
    mapped = blocked_vmap(fn, block) if mesh is None else shard_runs(fn, mesh, block)

    def run(*args):
        return mapped(*args)

    run.__name__ = run.__qualname__ = name or getattr(fn, "__name__", "map_lanes")
    return run


def initialize_distributed() -> None:
    """Joins a multi-process JAX job (Slurm, Open MPI, Kubernetes, TPU pods: auto-detected).

    Must come before any computation. Each process keeps working on its local devices only.
    """
    jax.distributed.initialize()
    logging.info(
        "process %d of %d, %d local devices",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
    )


def all_processes_done() -> bool:
    """Waits until every process of the job got here; True in process 0 only (it merges).

    With a single process: True at once.
    """
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("alignment: every share trained")
    return jax.process_index() == 0


def process_share(task_index: int, num_tasks: int) -> tuple[int, int]:
    """(task_index, num_tasks) of this process: each task's share split again over processes.

    With one process this is the identity; with P processes task t of K becomes the P tasks
    t*P + p of K*P, so a job array of multi-process jobs still covers every chunk once.
    """
    count = jax.process_count()
    return task_index * count + jax.process_index(), num_tasks * count
