"""The results store: per-chunk netCDF files, merged trajectories, summary.csv, atomic writes.

Layout of a workdir::

    config.json           the resolved config (a rerun with a different config is refused)
    chunks/chunk_NNNNN.nc one file per finished chunk: every variable of its runs, with the
                          per-neuron arrays of the runs that keep them (kept by a rerun
                          unless of other code or unreadable: workdir.py)
    checkpoints/          chunk_NNNNN.npz of the chunk being trained (checkpoint.py), removed
                          once its chunk file exists: a rerun resumes from it
    trajectories.nc       per-run snapshot statistics of all chunks (dims run x snapshot)
    summary.csv           one row per run (the job's columns)
    NAME.json             the job's report (the job names it)
    figures/              PNG and PDF (and GIF animations)

The schema is documented in docs/results_schema.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

CHUNK_DIR = "chunks"
CONFIG = "config.json"
SUMMARY = "summary.csv"
TRAJECTORIES = "trajectories.nc"
FIGURES = "figures"
NEURON_DIMS = ("neuron", "coord", "neuron_run")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yields a temporary path in the same folder, renamed onto ``path`` only on success.

    The temporary file is made with mode 0o666 less the umask (like any new file, without
    touching the process's umask); after the caller has written it, it is fsync'ed, renamed
    onto ``path`` and the folder is fsync'ed, so a crash leaves the old file or the new one,
    never a part. On failure the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the real suffix last: writers that pick the format from the name (PIL) still can
    tmp = path.parent / f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}"
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def fsync_file(path) -> None:
    """Flushes a written file to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder) -> None:
    """Flushes a folder's entries (a rename or removal in it) to disk, where the OS allows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. platforms that cannot open folders
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the rename itself stands
    finally:
        os.close(fd)


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


def write_trajectories(workdir, num_chunks: int) -> xr.Dataset:
    """Merges chunk files 0..num_chunks-1 into trajectories.nc (every one must exist)."""
    workdir = Path(workdir)
    missing = sorted(set(range(num_chunks)) - set(finished_chunks(workdir)))
    if missing:
        raise RuntimeError(f"{len(missing)} chunks not finished yet (first: {missing[:5]})")
    traj = merge_chunks([load_chunk(workdir, i) for i in range(num_chunks)])
    write_netcdf(workdir / TRAJECTORIES, traj)
    return traj


def scalar_part(ds: xr.Dataset) -> xr.Dataset:
    """The variables of a chunk without per-neuron axes (what trajectories.nc keeps)."""
    keep = [v for v in ds.data_vars if not set(NEURON_DIMS) & set(ds[v].dims)]
    return ds[keep].drop_vars(list(NEURON_DIMS), errors="ignore")


def merge_chunks(datasets: list[xr.Dataset]) -> xr.Dataset:
    """Concatenates chunks along runs (sorted by run id), NaN-padding shorter snapshot axes.

    The merged attributes are those every chunk shares (a chunk's own, such as its index,
    are dropped).
    """
    parts = [scalar_part(ds) for ds in datasets]
    merged = xr.concat(parts, dim="run", join="outer", fill_value=np.nan, data_vars="all")
    shared = dict(datasets[0].attrs)
    for ds in datasets[1:]:
        shared = {k: v for k, v in shared.items() if k in ds.attrs and _same(ds.attrs[k], v)}
    merged = merged.sortby("run")
    for name in merged.variables:  # a chunk file's string width (encoding dtype <U2, say)
        merged[name].encoding = {}  # must not truncate a wider value of a later chunk
    merged.attrs = shared
    return merged


def _same(a, b) -> bool:
    return np.shape(a) == np.shape(b) and bool(np.all(np.asarray(a) == np.asarray(b)))


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
