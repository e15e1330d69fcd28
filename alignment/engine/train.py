"""The trainer: the one place where jit, vmap, scan and donation are arranged, for any family.

A *program* (``Program``) is a model family (``alignment/<family>/family.py``), an integrator
(``alignment/engine/integrate.py``) and a dtype: everything that shapes the computation. Within a
program every run is one lane of a ``jax.vmap``; its per-run values (seed, and the family's and
integrator's lane axes) are :class:`Lanes`. A whole trajectory is one jitted call:
``lax.scan`` over the segments of a snapshot time grid, each segment a ``lax.while_loop`` of
integrator steps, the family's statistics reduced on device at the end of every segment. Time
is accumulated in float64.

A lane whose loss or parameters become non-finite (or whose loss exceeds ``diverge_loss``) is
flagged with the time it diverged and frozen at its last finite parameters; the other lanes
continue. A lane whose loss at a snapshot is below its ``stop_below`` (``train``) has been
decided (e.g. interpolating) and takes no more steps, as one whose step count reached its
``step_limit`` (a budget): its time stays where it stopped.
Every snapshot also records the lane's step count and its parameter displacement
since the previous snapshot, ``|theta(t_k) - theta(t_{k-1})|`` (float64), whatever the family.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from alignment.engine import curvature, integrate, sharding
from alignment.engine.lanes import Lanes
from alignment.engine.program import SEED, Program


class RunContext(NamedTuple):
    """Per-run constants: the family's (data, references) and the lane's values."""

    family: Any
    lane: dict


class TrainState(NamedTuple):
    """The carried (and donated) state of one run."""

    params: Any
    istate: Any  # the integrator's state
    step: jax.Array  # integrator steps taken (int64)
    time: jax.Array  # float64
    diverged: jax.Array  # bool
    diverge_time: jax.Array  # time of the first non-finite step (inf if none), float64
    probe: Any  # unit vector (params' pytree) of the sharpness power iteration, warm-started
    loss: jax.Array  # the loss at the last snapshot (inf before the first), float64


def time_grid(max_time: float, num: int = 200, t_min: float | None = None) -> np.ndarray:
    """Snapshot times: 0, then ``num - 1`` log-spaced times from t_min to max_time."""
    if not max_time > 0 or num < 2:
        raise ValueError(f"need max_time > 0 and num >= 2, got max_time={max_time}, num={num}")
    t_min = max_time * 1e-4 if t_min is None else t_min
    if not 0 < t_min <= max_time:
        raise ValueError(f"t_min={t_min} must be in (0, max_time={max_time}]")
    return np.concatenate([[0.0], np.geomspace(t_min, max_time, num - 1)])


def _init_run(prog: Program, lane: dict) -> tuple[TrainState, RunContext]:
    """One run's parameters, integrator state and constants (vmapped over lanes)."""
    dtype = prog.jnp_dtype
    key = jax.random.key(lane[SEED])
    params, fctx = prog.family.initialize(key, lane, dtype)
    t64 = integrate.TIME_DTYPE
    loss_and_grad = functools.partial(prog.family.loss_and_grad, ctx=fctx)
    probe = curvature.random_probe(jax.random.fold_in(key, 99), params)
    istate = prog.integrator.init(params, lane, dtype, loss_and_grad)
    # an integrator that follows the sharpness (faithful GD) sees it before its first step
    lam, _ = curvature.sharpness(loss_and_grad, params, probe, prog.sharpness_iters)
    state = TrainState(
        params,
        prog.integrator.observe(istate, lam, lane),
        jnp.zeros((), jnp.int64),
        jnp.zeros((), t64),
        jnp.zeros((), bool),
        jnp.asarray(jnp.inf, t64),
        probe,
        jnp.asarray(jnp.inf, t64),
    )
    return state, RunContext(fctx, lane)


def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def displacement(new, old) -> jax.Array:
    """|new - old| over every parameter leaf, in float64."""
    sq = [
        jnp.sum((a.astype(jnp.float64) - b.astype(jnp.float64)) ** 2)
        for a, b in zip(jax.tree_util.tree_leaves(new), jax.tree_util.tree_leaves(old), strict=True)
    ]
    return jnp.sqrt(sum(sq))


def _train_run(prog: Program, state: TrainState, ctx: RunContext, targets_K, stop_below, limit):
    """Runs one lane to each snapshot's target time in turn, recording statistics; it takes no
    step once its loss at a snapshot is below ``stop_below`` or its step count reaches
    ``limit``."""
    fam, integ, lane = prog.family, prog.integrator, ctx.lane
    loss_and_grad = functools.partial(fam.loss_and_grad, ctx=ctx.family)
    constrain = functools.partial(fam.constrain, ctx=ctx.family) if fam.constrained else None

    def step(s: TrainState, goal) -> TrainState:
        loss, params, istate, t_new = integ.step(
            loss_and_grad, constrain, s.params, s.istate, s.step, s.time, goal, lane
        )
        ok = jnp.isfinite(loss) & (loss < prog.diverge_loss) & _all_finite(params)
        keep = functools.partial(jnp.where, ok)
        return TrainState(
            params=jax.tree_util.tree_map(keep, params, s.params),
            istate=jax.tree_util.tree_map(keep, istate, s.istate),
            step=s.step + ok.astype(s.step.dtype),
            time=jnp.where(ok, t_new, s.time),
            diverged=~ok,
            diverge_time=jnp.where(ok, s.diverge_time, s.time),
            probe=s.probe,
            loss=s.loss,
        )

    def running(s: TrainState):
        return ~(s.loss < stop_below) & (s.step < limit)

    def segment(s: TrainState, target):
        before, goal = s.params, integ.goal(target, lane)
        s = jax.lax.while_loop(
            lambda s: integ.more(s.step, s.time, goal) & ~s.diverged & running(s),
            functools.partial(step, goal=goal),
            s,
        )
        snap = fam.snapshot(s.params, ctx.family)
        lam, probe = curvature.sharpness(loss_and_grad, s.params, s.probe, prog.sharpness_iters)
        snap |= {
            "time": s.time,
            "step": s.step,
            "diverged": s.diverged,
            "displacement": displacement(s.params, before),
            "sharpness": lam,
            "step_sharpness": lam * integ.step_size(s.istate, lane),
        }
        istate = integ.observe(s.istate, lam, lane)
        loss = snap["loss"].astype(s.loss.dtype)
        return s._replace(probe=probe, istate=istate, loss=loss), snap

    return jax.lax.scan(segment, state, targets_K)


# init runs once, for well under its compile time: LLVM level 1 on a CPU compiles it in ~0.6x the
# time, parameters and data bit for bit, the constants computed from them within rounding
INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


@functools.lru_cache(maxsize=16)  # bounded: each program's executables hold code memory
def compiled(prog: Program, mesh: jax.sharding.Mesh | None = None):
    """(init, train) for a program: jit(vmap(...)) over the run axis, state donated.

    With a mesh, the run axis is split over its devices (``sharding.map_lanes``); the run
    count must then be a multiple of the mesh size (``init_runs`` and ``train`` pad it).
    """

    block = _block_limit(prog)
    options = INIT_COMPILER_OPTIONS if jax.default_backend() == "cpu" else None
    # init: one plain vmap (a blocked program would compile its body twice for one call)
    run_init = sharding.map_lanes(functools.partial(_init_run, prog), mesh, 0, "init_lanes")
    init = jax.jit(run_init, compiler_options=options)
    run_train = sharding.map_lanes(functools.partial(_train_run, prog), mesh, block, "train_lanes")
    train = jax.jit(run_train, donate_argnums=0)
    return init, train


def _block_limit(prog: Program) -> int:
    return sharding.lanes_at_once(prog.lane_batch, prog.family.lane_bytes(prog.jnp_dtype))


def block_size(prog: Program, lanes: int, shard=None) -> int:
    """Lanes a vmapped block of ``prog``'s train program runs at once in a call of ``lanes``."""
    return sharding.block_in_call(lanes, _block_limit(prog), sharding.default_mesh(shard))


def _reinit_run(prog: Program, state: TrainState, ctx: RunContext) -> TrainState:
    loss_and_grad = functools.partial(prog.family.loss_and_grad, ctx=ctx.family)
    istate = prog.integrator.init(state.params, ctx.lane, prog.jnp_dtype, loss_and_grad)
    return state._replace(istate=istate)


@functools.lru_cache(maxsize=16)
def _compiled_switch(prog: Program, mesh):
    fn = functools.partial(_reinit_run, prog)
    return jax.jit(sharding.map_lanes(fn, mesh))


def switch_integrator(prog: Program, state: TrainState, ctx: RunContext, shard=None):
    """``state`` carried on by ``prog``'s integrator: same parameters, time and step count, the
    new integrator's state made at the current parameters (e.g. GD, then flow)."""
    prog.validate()
    num = sharding.num_runs(state)
    mesh = sharding.default_mesh(shard)
    run = _compiled_switch(prog, mesh)
    return sharding.take_runs(run(*sharding.to_runs((state, ctx), mesh)), num)


def _device_lanes(prog: Program, lanes: Lanes) -> dict:
    """Lane values on device: seeds uint32, integer columns int64, the rest float64."""
    out = {}
    for k in prog.lane_axes:
        v = np.asarray(lanes.values[k])
        if k == SEED:
            out[k] = jnp.asarray(v, jnp.uint32)
        elif v.dtype.kind in "iub":
            out[k] = jnp.asarray(v, jnp.int64)
        else:
            out[k] = jnp.asarray(v, jnp.float64)
    return out


def init_runs(
    prog: Program, lanes: Lanes, shard: bool | None = None
) -> tuple[TrainState, RunContext]:
    """Initial state and per-run constants of every lane (checked before any compute).

    ``shard`` splits the lanes over this process's devices (default: when it has several,
    see ``sharding.default_mesh``); results equal the unsharded ones to rounding. Lanes are
    padded so that no device runs a lone lane, which rounds differently (``sharding``).
    """
    prog.validate()
    prog.check_lanes(lanes)
    mesh = sharding.default_mesh(shard)
    init, _ = compiled(prog, mesh)
    lane = _device_lanes(prog, lanes)
    return sharding.take_runs(init(sharding.to_runs(lane, mesh)), len(lanes))


def train(
    prog: Program,
    state: TrainState,
    ctx: RunContext,
    times_K,
    shard=None,
    active=None,
    stop_below=None,
    step_limit=None,
):
    """Continues every lane through the snapshot times (absolute times, non-decreasing).

    ``state`` is donated: use the returned one. Returns (state, snapshots), snapshots a dict
    of arrays with leading axes (R, K). ``shard`` as in ``init_runs``. ``active`` (R,) bool:
    the lanes that step (default all); the others take no step (their targets are time 0), so
    a lane block of them ends its while loops at once (the same compiled program either way).
    ``stop_below`` (R,) or scalar: a lane whose loss at a snapshot (this call's or the last
    one before it) is below it takes no more steps (default -inf: none stops); its later
    snapshots repeat that one, time included. ``step_limit`` (R,) or scalar: a lane takes no
    step once its step count reaches it (default: none), its later snapshots alike. A lane
    block ends its while loops when all its lanes have.
    """
    times_K = np.asarray(times_K, dtype=np.float64)
    if times_K.ndim != 1 or np.any(np.diff(times_K) < 0) or np.any(times_K < 0):
        raise ValueError("times must be a 1-D non-decreasing array of non-negative times")
    num = sharding.num_runs(state)
    mesh = sharding.default_mesh(shard)
    _, run = compiled(prog, mesh)
    targets_RxK = np.broadcast_to(times_K, (num, len(times_K)))
    if active is not None:
        targets_RxK = np.where(np.asarray(active, bool)[:, None], targets_RxK, 0.0)
    stop = -np.inf if stop_below is None else stop_below
    stop_R = jnp.asarray(np.broadcast_to(np.asarray(stop, np.float64), (num,)))
    limit = np.iinfo(np.int64).max if step_limit is None else step_limit
    limit_R = jnp.asarray(np.broadcast_to(np.asarray(limit, np.int64), (num,)))
    args = sharding.to_runs((state, ctx, jnp.asarray(targets_RxK), stop_R, limit_R), mesh)
    return sharding.take_runs(run(*args), num)
