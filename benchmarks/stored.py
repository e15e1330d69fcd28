"""A finished threshold job's runs as they ended, rebuilt from its workdir alone: the config
(``config.json``), each chunk's runs and their data (drawn again from the seeds), and their
state from the end parameters the chunk file stores (``end_state.end_params``). What a check of
the verdicts needs to continue a run without training it again."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import ml_collections
import numpy as np

from alignment.engine import train
from alignment.runner import results
from alignment.two_layer import end_state, grid, records
from alignment.two_layer import job as threshold_job


def load_config(workdir) -> ml_collections.ConfigDict:
    """The resolved config the workdir's job ran (its ``config.json``)."""
    path = Path(workdir) / results.CONFIG
    if not path.exists():
        raise ValueError(f"--workdir={workdir} has no {results.CONFIG}: not a job's workdir")
    return ml_collections.ConfigDict(json.loads(path.read_text()))


def finished_chunks(cfg, workdir) -> list[tuple]:
    """(chunk, its dataset) of every chunk the workdir has a file of, in chunk order."""
    runs = grid.expand(cfg)
    chunks = threshold_job.validate(cfg, runs)
    out = []
    for index in results.finished_chunks(Path(workdir)):
        ds = results.load_chunk(Path(workdir), index)
        if "end_w" not in ds:
            raise ValueError(
                f"chunk {index} of {workdir} has no end parameters (end_w): "
                "it was written before chunk files kept them"
            )
        chunk = chunks[index]
        if not np.array_equal(ds["run"].values, np.asarray(chunk.run_ids)):
            raise ValueError(f"chunk {index} of {workdir} holds other runs than its config's")
        out.append((chunk, ds))
    return out


def ended_state(runs, chunk, ds):
    """(state, ctx) of the chunk's lanes, its real runs at their end: parameters, time, step
    and loss from the chunk file, the integrator's state made anew there (as when the verdict
    loop switches integrators). Padding lanes stay at their start. ``runs``: the config's
    run table (``grid.expand``)."""
    lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
    state, ctx = train.init_runs(chunk.program, lanes)
    state = jax.tree_util.tree_map(np.array, state)
    real = len(chunk.run_ids)
    for k, v in end_state.end_params(ds).items():
        state.params[k][:real] = v.astype(state.params[k].dtype)
    state.time[:real] = records.last_value(ds, "time")
    state.step[:real] = records.last_value(ds, "step").astype(state.step.dtype)
    state.loss[:real] = records.last_value(ds, "loss")
    return train.switch_integrator(chunk.program, state, ctx), ctx


def run_arrays(params, ctx, r: int):
    """(theta_MxD, a_M, x_NxD, y_N) of lane ``r``, float64, its real samples only: what the
    certificates read (``family.certify``'s arrays; with a bias, theta = (w, b), x = (x, 1))."""
    train = ctx.family.train
    keep = np.asarray(train.mask_N[r]) > 0
    theta = np.asarray(params["w"][r], np.float64)
    x = np.asarray(train.x_NxD[r], np.float64)[keep]
    if "b" in params:
        theta = np.concatenate([theta, np.asarray(params["b"][r], np.float64)[:, None]], -1)
        x = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    y = np.asarray(train.y_N[r], np.float64)[keep]
    return theta, np.asarray(params["a"][r], np.float64), x, y


def in_float64(tree):
    """``tree`` with every floating array in float64 (exact from float32), the rest as is."""

    def up(x):
        x = np.asarray(x)
        return x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x

    return jax.tree_util.tree_map(up, tree)
