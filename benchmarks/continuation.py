"""Continuing a check's stuck runs from their verdict time t_v to factor x t_v, resumably.

A continuation of a sharp run judged late is 1e7 to 1e8 GD steps (an hour or more on a CPU), so
it runs in compiled calls of ``SNAPSHOTS_PER_CALL`` snapshots with a checkpoint after each (the
job's own chunk loop cuts its calls the same way: ``chunk_loop.snapshot_calls``, which gives the
same trajectory as one call): a check killed part way, rerun with --resume, goes on from its
last call instead of from t_v.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np
from absl import logging

from alignment.engine import gather, integrate, train
from alignment.runner import checkpoint, chunk_loop, results
from alignment.two_layer import verdict_loop
from benchmarks import stored
from benchmarks import verdicts_table as vt

SNAPSHOTS = 41  # of each continuation, log-spaced, to see a rise before a fall
SNAPSHOTS_PER_CALL = 5  # per compiled call; a checkpoint follows each (9 calls a continuation)


class Plan(NamedTuple):
    """How a check continues its runs: to ``factor`` x t_v, by ``how`` ('same', 'flow' or
    'gd') at GD's cap or the flow's rtol, in float64 or the job's dtype; its calls'
    checkpoints in ``folder`` (None: none)."""

    factor: float
    how: str
    gd_cap: float | None
    flow_rtol: float
    float64: bool
    folder: Path | None


def integrator(cfg, plan: Plan):
    """Faithful GD at ``plan.gd_cap``, or the flow with the config's step control at its rtol."""
    if plan.how == "gd":
        return integrate.GD(max_step_sharpness=plan.gd_cap)
    settings = {k: float(v) for k, v in cfg.flow.items()} | {"rtol": plan.flow_rtol}
    return integrate.Flow(**settings)


def program(cfg, prog, state, plan: Plan):
    """The program that continues a chunk's runs (its own where ``plan.how`` is 'same')."""
    if "dt" in state.istate:  # the verdict loop already switched the chunk to the flow
        prog = verdict_loop.continuation_program(cfg, prog)
    if plan.how != "same":
        prog = dataclasses.replace(prog, integrator=integrator(cfg, plan))
    if plan.float64:
        prog = dataclasses.replace(prog, dtype="float64")
    return prog


def continue_runs(cfg, prog, ended, chosen, plan: Plan):
    """(L(t_v), L(factor t_v), largest relative rise of L above L(t_v) on the way, steps
    taken) of each ``chosen`` run continued from its verdict time t_v (NaN for the others).
    ``ended`` = (state, ctx, t_v of each run, chunk index)."""
    state, ctx, t_final, chunk_index = ended
    start, end = np.full(len(chosen), np.nan), np.full(len(chosen), np.nan)
    rise, steps = np.full(len(chosen), np.nan), np.full(len(chosen), np.nan)
    flow = program(cfg, prog, state, plan)
    for t_v in np.unique(t_final[chosen]):
        ids = np.flatnonzero(chosen & (t_final == t_v))
        sub_state = gather.take(jax.tree_util.tree_map(np.asarray, state), ids)
        sub_ctx = gather.take(ctx, ids)
        if plan.float64:
            sub_state, sub_ctx = stored.in_float64((sub_state, sub_ctx))
        if plan.how == "gd":  # every step gd_cap x the job's faithful step min(lr, 1 / lambda_max)
            lr = np.asarray(sub_ctx.lane["lr"]) * plan.gd_cap
            sub_ctx = sub_ctx._replace(lane={**sub_ctx.lane, "lr": lr})
        sub_flow, sub_ctx = fitted(flow, sub_ctx)
        if flow is not prog:  # another integrator or dtype: its state from the runs' own
            sub_state = train.switch_integrator(sub_flow, sub_state, sub_ctx)
        times = np.geomspace(t_v, plan.factor * t_v, SNAPSHOTS)
        calls = Calls(plan.folder, chunk_index, t_v, ids)
        loss, steps[ids] = continue_lanes(sub_flow, sub_state, sub_ctx, times, calls)
        start[ids], end[ids] = loss[:, 0], loss[:, -1]
        rise[ids] = np.max(loss, axis=1) / loss[:, 0] - 1
    return start, end, rise, steps


def fitted(prog, ctx):
    """``prog`` and ``ctx`` with the training set cut to the runs' largest n, rounded up to 8
    (even, as symmetric data needs): a job shares one padded size among several n (in
    threshold_wide n = 45 to 181 step on 184 points), and the padding rows, masked, add only
    zeros to every sum, at the cost of steps 2 to 4x slower."""
    family, train_set = prog.family, ctx.family.train
    n_pad = getattr(family, "n_pad", None)
    size = -(-int(np.max(np.asarray(train_set.n))) // 8) * 8
    if n_pad is None or size >= n_pad:
        return prog, ctx
    if np.any(np.asarray(train_set.mask_N)[:, size:]):
        raise ValueError(f"the training set has real samples past its n (padded to {n_pad})")
    cut = train_set._replace(
        **{
            k: np.asarray(getattr(train_set, k))[:, :size]
            for k in ("x_NxD", "y_N", "y_clean_N", "mask_N")
        }
    )
    family = dataclasses.replace(family, n_pad=size)
    ctx = ctx._replace(family=ctx.family._replace(train=cut))
    return dataclasses.replace(prog, family=family), ctx


def continue_lanes(flow, state, ctx, times, calls: Calls):
    """(loss (R, K) at ``times``, steps taken (R,)): ``state`` continued through ``times`` in
    calls of SNAPSHOTS_PER_CALL snapshots, from the last call ``calls`` saved, saving after
    each call."""
    cut = chunk_loop.snapshot_calls(times, SNAPSHOTS_PER_CALL)
    done, losses, step0 = 0, [], np.asarray(state.step)  # step0 before train donates it
    saved = calls.load(state)
    if saved is not None:
        done, state, losses, step0 = saved
        logging.info("%s: resumed after call %d of %d", calls.label, done, len(cut))
    for k in range(done, len(cut)):
        t0 = time.perf_counter()
        state, snaps = train.train(flow, state, ctx, cut[k])
        losses.append(np.asarray(snaps["loss"], np.float64))
        calls.save(k + 1, state, losses, step0)
        steps, wall = np.max(np.asarray(state.step) - step0), time.perf_counter() - t0
        logging.info(  # an hour-long continuation says where it is
            "%s: call %d of %d to t = %.4g, largest loss %.6g, %d steps so far (%.0f s)",
            calls.label,
            k + 1,
            len(cut),
            cut[k][-1],
            losses[-1][:, -1].max(),
            steps,
            wall,
        )
    loss = np.concatenate(losses, axis=1)[:, : len(times)]
    return loss, np.asarray(state.step) - step0


def calls_folder(json_path) -> Path:
    """Where a check whose json is ``json_path`` keeps its continuations' checkpoints."""
    return Path(json_path).with_suffix(".calls")


def open_calls(folder, out: dict, resume: bool) -> None:
    """Readies ``folder`` for the continuations of a check of settings ``out`` (its json's
    head): without ``resume`` an earlier check's checkpoints there are removed; with it, those
    of a check of other settings are refused (a ValueError naming the setting: the json, which
    holds them too, is written only once a chunk is done). The settings go into the folder."""
    folder, settings = Path(folder), Path(folder) / "settings.json"
    if not resume:
        drop_calls(folder)
    elif settings.exists():
        vt.refuse_other_settings(settings, json.loads(settings.read_text()), out)
    folder.mkdir(parents=True, exist_ok=True)
    results.write_json(settings, out)


def drop_calls(folder, chunk_index: int | None = None) -> None:
    """Removes the checkpoints of one chunk's continuations; all of them, their settings and
    the folder where ``chunk_index`` is None (the check is done, or starts over)."""
    folder = Path(folder)
    pattern = "chunk*.npz" if chunk_index is None else f"chunk{chunk_index:05d}_*.npz"
    for path in folder.glob(pattern):
        path.unlink()
    if chunk_index is None and folder.is_dir():
        (folder / "settings.json").unlink(missing_ok=True)
        folder.rmdir()


class Calls:
    """The checkpoint of one continuation (a chunk's runs of one verdict time): the state after
    its last call, the losses so far and the steps at its start, in ``folder`` (none: no
    checkpoint)."""

    def __init__(self, folder, chunk_index: int, t_v: float, ids):
        name = f"chunk{chunk_index:05d}_t{float(t_v)!r}.npz"  # t_v to its last bit
        self.label = f"chunk {chunk_index}, {len(ids)} run(s) judged at t = {t_v:.4g}"
        self.path = None if folder is None else Path(folder) / name
        self.ids = np.asarray(ids)

    def load(self, state):
        """(calls done, state, losses, step0) saved for these runs, or None."""
        if self.path is None or not self.path.exists():
            return None
        tree = checkpoint.load(self.path)
        leaves, treedef = jax.tree_util.tree_flatten(state)
        got = [tree["leaves"][f"{i:04d}"] for i in range(len(tree["leaves"]))]
        same = len(got) == len(leaves) and np.array_equal(tree["ids"], self.ids)
        if not same or any(np.shape(a) != np.shape(b) for a, b in zip(got, leaves, strict=True)):
            raise ValueError(f"--resume: {self.path} holds other runs than this check's")
        state = jax.tree_util.tree_unflatten(treedef, got)
        losses = list(np.split(tree["loss"], int(tree["calls_done"]), axis=1))
        return int(tree["calls_done"]), state, losses, tree["step0"]

    def save(self, calls_done: int, state, losses, step0) -> None:
        if self.path is None:
            return
        leaves = {f"{i:04d}": np.asarray(x) for i, x in enumerate(jax.tree_util.tree_leaves(state))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tree = {"leaves": leaves, "loss": np.concatenate(losses, axis=1), "step0": step0}
        checkpoint.save(self.path, tree | {"calls_done": np.asarray(calls_done), "ids": self.ids})
