"""The results store: per-chunk netCDF files, merged trajectories, summary.csv, atomic writes.

Layout of a workdir::

    config.json           the resolved config (a rerun with a different config is refused)
    chunks/chunk_NNNNN.nc one file per finished chunk: every variable of its runs, with the
                          per-neuron arrays of the runs that keep them (the unit of resumption:
                          a chunk whose file exists is never recomputed)
    trajectories.nc       per-run snapshot statistics of all chunks (dims run x snapshot)
    summary.csv           one row per run (columns: SUMMARY_COLUMNS)
    threshold.json        n* per group
    figures/              PNG and PDF (and GIF animations)

The schema is documented in docs/results_schema.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

CHUNK_DIR = "chunks"
CONFIG = "config.json"
SUMMARY = "summary.csv"
THRESHOLD = "threshold.json"
TRAJECTORIES = "trajectories.nc"
FIGURES = "figures"
NEURON_DIMS = ("neuron", "coord", "neuron_run")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yields a temporary path in the same folder, renamed onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path, text: str) -> None:
    """Writes a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj) -> None:
    """Writes JSON atomically (NaN written as null)."""
    write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_netcdf(path, ds: xr.Dataset) -> None:
    """Writes a dataset atomically (netCDF4)."""
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4")


def chunk_path(workdir, index: int) -> Path:
    return Path(workdir) / CHUNK_DIR / f"chunk_{index:05d}.nc"


def load_chunk(workdir, index: int) -> xr.Dataset:
    """One finished chunk, fully loaded (the file is closed)."""
    with xr.open_dataset(chunk_path(workdir, index), engine="netcdf4") as ds:
        return ds.load()


def finished_chunks(workdir) -> list[int]:
    """Indices of chunks whose file exists."""
    folder = Path(workdir) / CHUNK_DIR
    if not folder.exists():
        return []
    return sorted(int(p.stem.split("_")[1]) for p in folder.glob("chunk_*.nc"))


def scalar_part(ds: xr.Dataset) -> xr.Dataset:
    """The variables of a chunk without per-neuron axes (what trajectories.nc keeps)."""
    keep = [v for v in ds.data_vars if not set(NEURON_DIMS) & set(ds[v].dims)]
    return ds[keep].drop_vars(list(NEURON_DIMS), errors="ignore")


def merge_chunks(datasets: list[xr.Dataset]) -> xr.Dataset:
    """Concatenates chunks along runs (sorted by run id), NaN-padding shorter snapshot axes."""
    parts = [scalar_part(ds) for ds in datasets]
    merged = xr.concat(parts, dim="run", join="outer", fill_value=np.nan, data_vars="all")
    return merged.sortby("run")


SUMMARY_COLUMNS = (
    "run", "sweep", "n", "d", "m", "seed", "lam", "lr", "init", "data", "x_dist", "bias",
    "sigma", "final_time", "train_loss", "test_loss", "test_excess", "ols_train_loss",
    "ols_test_loss", "ols_test_excess", "grad_norm", "speed", "verdict", "n_directions",
    "aligned_fraction", "alignment_time", "escape_time", "loss_drop_time", "diverged",
    "diverge_time",
)  # fmt: skip
# Columns that are NaN until the statistics module records them (kept so the schema is fixed).
OPTIONAL_COLUMNS = ("n_directions", "aligned_fraction", "alignment_time", "escape_time",
                    "loss_drop_time", "speed")  # fmt: skip


def summary_table(traj: xr.Dataset) -> dict[str, np.ndarray]:
    """One row per run: settings, final statistics, reference losses and the verdict."""
    last = traj["last_snapshot"].values.astype(int)
    rows = np.arange(traj.sizes["run"])

    def final(name):
        if name not in traj:
            return np.full(len(rows), np.nan)
        return traj[name].values[rows, last]

    cols: dict[str, np.ndarray] = {"run": traj["run"].values}
    for k in SUMMARY_COLUMNS[1:]:
        if k in ("train_loss", "final_time"):
            cols[k] = final({"train_loss": "loss", "final_time": "time"}[k])
        elif k in traj and "snapshot" in traj[k].dims:
            cols[k] = final(k)
        elif k in traj:
            cols[k] = traj[k].values
        else:
            cols[k] = np.full(len(rows), np.nan)
    return cols


def write_csv(path, cols: dict[str, np.ndarray]) -> None:
    """Writes columns as CSV atomically (floats at full precision)."""
    with atomic_path(path) as tmp:
        pd.DataFrame(cols).to_csv(tmp, index=False)


def read_csv(path) -> pd.DataFrame:
    """Reads a summary.csv back."""
    return pd.read_csv(path)


def load_neurons(workdir, run_id: int) -> xr.Dataset | None:
    """The per-neuron arrays (and time) of one run from its chunk file, or None if not kept.

    Variables: neuron_w (snapshot, neuron, coord), neuron_a (snapshot, neuron), ... and time
    (snapshot); only real snapshots (finite time) are returned.
    """
    for index in finished_chunks(workdir):
        with xr.open_dataset(chunk_path(workdir, index), engine="netcdf4") as ds:
            if run_id not in ds["run"].values:
                continue
            if "neuron_run" not in ds.coords or run_id not in ds["neuron_run"].values:
                return None
            one = ds.sel(neuron_run=run_id)
            keep = [v for v in one.data_vars if "neuron" in one[v].dims]
            out = one[keep].load()
            out["time"] = ds["time"].sel(run=run_id).load()
            return out
    return None
