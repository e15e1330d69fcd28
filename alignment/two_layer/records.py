"""A trained chunk as a labelled dataset (the chunk file), for any family.

Dims: run, snapshot; per-neuron arrays (kept for ``neuron_runs`` only) have dims
(neuron_run, snapshot, neuron[, coord]), neuron_run a coordinate holding run ids. The family
adds its per-run variables (``outputs``) and event times; the grid adds the run settings.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from alignment.two_layer import grid

INDEX_DIMS = ("coord_in", "coord_ols", "coord_nrn", "extremal")


def neuron_runs(cfg, runs, chunk: grid.Chunk) -> np.ndarray:
    """Which of the chunk's runs keep their per-neuron arrays: the first ``neuron_seeds``
    seeds of their sub-sweep."""
    sub = dict(grid.sub_sweeps(cfg))[chunk.sweep]
    seeds = runs["seed"][np.asarray(chunk.run_ids)]
    return seeds < sub.seed_offset + cfg.neuron_seeds


def last_snapshots(time_RxK: np.ndarray) -> np.ndarray:
    """Index of each run's last recorded snapshot (finite time)."""
    ok = np.isfinite(np.asarray(time_RxK, np.float64))
    return ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)


def _snapshot_vars(snaps, keep_neurons) -> dict:
    out = {}
    for k, v in snaps.items():
        if k == "diverged":
            continue
        if v.dtype.kind in "iub":  # counts become float: merged chunks pad with NaN
            v = v.astype(np.float64)
        if v.ndim == 2:
            out[k] = (("run", "snapshot"), v)
        elif keep_neurons.any():  # rows of the kept runs, or of every run
            dims = ("neuron_run", "snapshot", "neuron", "coord")[: v.ndim]
            out[k] = (dims, v if len(v) == keep_neurons.sum() else v[keep_neurons])
    return out


def chunk_dataset(runs, chunk, snaps, verdict, ctx, state, keep_neurons=None, attrs=None):
    """Labels a chunk's arrays (host numpy: snapshots (R, K, ...), ctx and state per run)."""
    family = chunk.program.family
    ids = np.asarray(chunk.run_ids)
    keep = np.zeros(len(ids), bool) if keep_neurons is None else np.asarray(keep_neurons)
    data_vars = _snapshot_vars(snaps, keep)
    data_vars |= {
        "verdict": ("run", np.asarray(verdict, dtype=str)),
        "last_snapshot": ("run", last_snapshots(snaps["time"])),
        "diverge_time": ("run", np.asarray(state.diverge_time, np.float64)),
        "diverged": ("run", np.asarray(state.diverged, bool)),
        # 1.0 once the run has diverged (float: absent snapshots and merged chunks are NaN)
        "diverged_at_snapshot": (("run", "snapshot"), np.asarray(snaps["diverged"], float)),
    }
    data_vars |= family.outputs(ctx.family)
    for k, v in family.event_times(snaps).items():
        data_vars[k] = ("run", v)
    for k in grid.RUN_COLUMNS:
        data_vars[k] = ("run", runs[k][ids])
    prog = chunk.program
    attrs = {
        "chunk": chunk.index,
        "sweep": chunk.sweep,
        "family": family.name,
        "integrator": prog.integrator.name,
        "dtype": prog.dtype,
        "summary_columns": ",".join(family.summary_columns),
        **(attrs or {}),
    }
    coords = {"run": ids, "snapshot": np.arange(snaps["time"].shape[1])}
    # index coordinates on every other axis, so that chunks whose sizes differ (several
    # sub-sweeps with different d) merge by NaN-padding instead of failing to align
    sizes = {}
    for dims, v in data_vars.values():
        sizes |= dict(zip((dims,) if isinstance(dims, str) else dims, v.shape, strict=True))
    for dim in INDEX_DIMS:
        if dim in sizes:
            coords[dim] = np.arange(sizes[dim])
    if keep.any():
        coords["neuron_run"] = ids[keep]
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
