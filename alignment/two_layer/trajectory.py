"""Loads one run's statistics and neuron directions over time, for figures and notebooks.

Two sources are accepted:

- the snapshot dict returned by :func:`alignment.train.train` (arrays with leading axes (R, K),
  on device or host), optionally with the run's :class:`alignment.train.RunContext` for the
  per-run constants (OLS direction, teacher, extremal vectors);
- an ``xarray.Dataset`` from the results store: snapshot variables with dims
  ("run", "snapshot", ...) (or "time_index" instead of "snapshot"), per-run constants with
  dims ("run", ...). Snapshots whose time is nan (the padding of merged chunks) are dropped.

Example::

    state, ctx = train.init_runs(prog, lanes)
    state, snaps = train.train(prog, state, ctx, times, lanes.lr)
    traj = trajectory.load_run(snaps, 3, ctx)
    traj.series["n_directions"], traj.events["alignment_time"], traj.directions()
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from alignment.two_layer import stats

SNAPSHOT_DIMS = ("snapshot", "time_index")
NEURON_KEYS = ("neuron_w", "neuron_a", "neuron_cos_ols", "neuron_extremal_angle")


@dataclasses.dataclass(frozen=True)
class Trajectory:
    """One run over its snapshot times (host numpy arrays)."""

    time_K: np.ndarray
    series: dict[str, np.ndarray]  # per-snapshot scalar statistics, each (K,)
    neurons: dict[str, np.ndarray]  # per-neuron arrays, (K, m[, D]); empty when m was too large
    events: dict[str, float]  # alignment_time, escape_time, loss_drop_time (inf if never)
    constants: dict[str, np.ndarray]  # per-run constants: beta_hat, extremal_u, ... if known

    def norms(self) -> np.ndarray:
        """||(w_j, b_j)|| per snapshot and neuron, shape (K, m)."""
        return np.linalg.norm(self._neuron_w(), axis=-1)

    def directions(self) -> np.ndarray:
        """Unit directions (w_j, b_j)/||(w_j, b_j)|| per snapshot and neuron, shape (K, m, D)."""
        w_KxMxD = self._neuron_w()
        norm = np.linalg.norm(w_KxMxD, axis=-1, keepdims=True)
        return w_KxMxD / np.where(norm > 0, norm, 1.0)

    def table(self, keys=("aligned_fraction", "n_directions"), every: int = 1) -> str:
        """A plain-text table of time and the given series, every ``every``-th snapshot."""
        head = "time".rjust(12) + "".join(k.rjust(22) for k in keys)
        rows = [head]
        for k in range(0, len(self.time_K), every):
            vals = "".join(f"{float(self.series[key][k]):22.4g}" for key in keys)
            rows.append(f"{self.time_K[k]:12.4g}{vals}")
        return "\n".join(rows)

    def _neuron_w(self) -> np.ndarray:
        if "neuron_w" not in self.neurons:
            raise ValueError("this run has no per-neuron arrays (m > store_neurons_max)")
        return self.neurons["neuron_w"]


def _split(arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
    neurons = {k: v for k, v in arrays.items() if k in NEURON_KEYS}
    series = {k: v for k, v in arrays.items() if k not in NEURON_KEYS}
    return series, neurons


def _events(series: dict[str, np.ndarray], given: dict[str, float]) -> dict[str, float]:
    needed = ("time", "aligned_fraction", "norm_growth", "loss")
    out = {}
    if all(k in series for k in needed):
        out = {k: float(v) for k, v in stats.event_times(series).items()}
    out.update(given)
    return out


def _context_constants(ctx, run: int) -> dict[str, np.ndarray]:
    ctx = jax.device_get(getattr(ctx, "family", ctx))  # a train.RunContext or its family part
    ext = ctx.extremal
    valid = np.asarray(ext.valid_E[run], bool)
    return {
        "beta_star": np.asarray(ctx.beta_star[run]),
        "beta_hat": np.asarray(ctx.ref.beta_hat[run]),
        "ols_train_loss": np.asarray(ctx.ref.train_loss[run]),
        "ols_test_loss": np.asarray(ctx.ref.test_loss[run]),
        "extremal_u": np.asarray(ext.u_ExD[run])[valid],
        "extremal_g": np.asarray(ext.g_E[run])[valid],
        "extremal_is_max": np.asarray(ext.is_max_E[run])[valid],
        "n": np.asarray(ctx.train.n[run]),
    }


def from_snapshots(snaps: dict, run: int, ctx=None) -> Trajectory:
    """Run ``run`` (position on the run axis) of a train.train snapshot dict."""
    arrays = {k: np.asarray(v[run]) for k, v in jax.device_get(snaps).items()}
    series, neurons = _split(arrays)
    constants = {} if ctx is None else _context_constants(ctx, run)
    return Trajectory(series["time"], series, neurons, _events(series, {}), constants)


def from_dataset(ds, run: int | None = None, *, run_id=None) -> Trajectory:
    """One run of a results-store dataset, by position ``run`` or by coordinate ``run_id``."""
    if (run is None) == (run_id is None):
        raise ValueError("give exactly one of run (position) and run_id (coordinate)")
    one = ds.isel(run=run) if run_id is None else ds.sel(run=run_id)
    snap_dim = next((d for d in SNAPSHOT_DIMS if d in one.dims), None)
    if snap_dim is None:
        raise ValueError(f"dataset has none of the snapshot dims {SNAPSHOT_DIMS}")
    keep = np.isfinite(np.asarray(one["time"].values, np.float64))
    arrays, constants, given = {}, {}, {}
    for name, var in one.data_vars.items():
        if snap_dim in var.dims:
            arrays[name] = np.asarray(var.transpose(snap_dim, ...).values)[keep]
        elif name in ("alignment_time", "escape_time", "loss_drop_time"):
            given[name] = float(var.values)
        else:
            constants[name] = np.asarray(var.values)
    series, neurons = _split(arrays)
    return Trajectory(series["time"], series, neurons, _events(series, given), constants)


def load_run(source, run: int, ctx=None) -> Trajectory:
    """One run (by position) of a snapshot dict (with optional RunContext) or an xarray.Dataset."""
    if isinstance(source, dict):
        return from_snapshots(source, run, ctx)
    if hasattr(source, "data_vars"):
        return from_dataset(source, run)
    raise TypeError(f"expected a snapshot dict or an xarray.Dataset, got {type(source)}")
