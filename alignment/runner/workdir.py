"""A sweep's workdir as a rerun finds it: usable, of this config, its chunks intact and current.

Checked before any compute. A workdir holds the results of one config (``config.json``): a
rerun whose result-relevant fields differ is refused, naming the first differing field, unless
``restart`` deletes the old results. Chunk files carry their provenance (``provenance.py``): a
chunk written by other code is recomputed (or kept with ``keep_old_chunks``), one of another
config is refused, and an unreadable one is set aside as ``*.corrupt`` and recomputed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import xarray as xr
from absl import logging

from alignment.runner import checkpoint, provenance, results

STALE_TMP_S = 600.0  # a temporary file this old belongs to no live write (they take seconds)
MERGED = (results.SUMMARY, results.TRAJECTORIES, results.CONFIG)  # and every job's *.json


def check_usable(workdir) -> Path:
    """The workdir, made if absent; ValueError if it is a file or cannot be written."""
    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise ValueError(f"workdir {workdir} is a file; --workdir must name a folder")
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        probe = workdir / f".write_probe.{os.getpid()}"
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        os.remove(probe)
    except OSError as e:
        raise ValueError(f"workdir {workdir} cannot be written ({e.strerror or e})") from e
    return workdir


def remove_stale_temporaries(workdir, older_than_s: float = STALE_TMP_S) -> list[Path]:
    """Deletes temporary files a killed process left in chunks/ and checkpoints/ (a write
    interrupted by SIGKILL cannot clean up). Only files older than ``older_than_s`` go: other
    tasks of a job array may be writing theirs right now. Returns the deleted paths."""
    now, gone = time.time(), []
    for folder in (results.CHUNK_DIR, checkpoint.CHECKPOINT_DIR):
        for path in (Path(workdir) / folder).glob(".*.tmp*"):
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime > older_than_s:
                    path.unlink()
                    gone.append(path)
    if gone:
        logging.info("%d temporary files of killed writes removed", len(gone))
    return gone


def check_config(workdir, cfg_json: str, neutral=provenance.NEUTRAL_FIELDS) -> None:
    """Refuses to mix results of different configs in one workdir; writes config.json.

    Fields that change no chunk (``neutral``: the job's) may differ; config.json then
    takes the new values.
    """
    path = Path(workdir) / results.CONFIG
    new = json.loads(cfg_json)
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise ValueError(
                f"{path} is unreadable ({e}); python -m sweeps.run --restart starts over"
            ) from e
        diff = provenance.first_difference(
            provenance.relevant_config(old, neutral), provenance.relevant_config(new, neutral)
        )
        if diff is not None:
            raise ValueError(
                f"{workdir} holds results of a different config (first differing field: "
                f"{diff}); python -m sweeps.run --restart deletes them and starts over, or use "
                "another --workdir"
            )
        if old == new:
            return
    results.write_text(path, cfg_json)


def start_over(workdir) -> None:
    """Deletes every result of a workdir (chunks, checkpoints, merged outputs, figures)."""
    workdir = Path(workdir)
    for folder in (results.CHUNK_DIR, checkpoint.CHECKPOINT_DIR, results.FIGURES):
        shutil.rmtree(workdir / folder, ignore_errors=True)
    for path in [*(workdir / name for name in MERGED), *workdir.glob("*.json")]:
        path.unlink(missing_ok=True)
    logging.info("%s: previous results deleted (restart)", workdir)


def chunk_attrs(workdir, index: int) -> dict:
    """A chunk file's attributes after reading all of it; ValueError if it is unreadable."""
    path = results.chunk_path(workdir, index)
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            ds.load()
            if "verdict" not in ds or "time" not in ds:
                raise ValueError("variables verdict/time missing")
            return dict(ds.attrs)
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise ValueError(f"chunk file {path} is unreadable ({type(e).__name__}: {e})") from e


def usable_chunks(
    workdir, cfg_json: str, keep_old_chunks: bool = False, neutral=provenance.NEUTRAL_FIELDS
) -> set[int]:
    """Finished chunks a rerun keeps: intact, of this config, of this code (or kept)."""
    stamp = provenance.stamp(cfg_json, neutral)
    keep, other_code = set(), []
    for index in results.finished_chunks(workdir):
        try:
            attrs = chunk_attrs(workdir, index)
        except ValueError as e:
            path = results.chunk_path(workdir, index)
            os.replace(path, path.with_name(path.name + ".corrupt"))
            logging.warning("%s; set aside as %s.corrupt, recomputing it", e, path.name)
            continue
        if attrs.get("config_hash", stamp["config_hash"]) != stamp["config_hash"]:
            raise ValueError(
                f"chunk file {results.chunk_path(workdir, index)} was written under another "
                f"config (hash {attrs['config_hash']}, now {stamp['config_hash']}); use "
                "python -m sweeps.run --restart to start over"
            )
        if attrs.get("code_hash") != stamp["code_hash"] and not keep_old_chunks:
            other_code.append((index, attrs))
            continue
        keep.add(index)
    if other_code:
        index, attrs = other_code[0]
        logging.warning(
            "%d chunk files (first: %d) were written by other code (version %s, git %s, code "
            "%s; now %s, %s, %s): recomputing them (--keep_old_chunks to keep them)",
            len(other_code),
            index,
            attrs.get("package_version", "?"),
            attrs.get("git_revision", "?") or "-",
            attrs.get("code_hash", "?"),
            stamp["package_version"],
            stamp["git_revision"] or "-",
            stamp["code_hash"],
        )
    return keep


def check_merge(workdir, num_chunks: int) -> None:
    """Before merging: every chunk exists and reads; other code's chunks are reported."""
    missing = sorted(set(range(num_chunks)) - set(results.finished_chunks(workdir)))
    if missing:
        raise ValueError(
            f"{len(missing)} of {num_chunks} chunks are not finished (first: {missing[:5]}); "
            "run the remaining tasks (python -m sweeps.run ... --task_index=i) first"
        )
    try:
        codes = {chunk_attrs(workdir, i).get("code_hash", "?") for i in range(num_chunks)}
    except ValueError as e:
        raise ValueError(f"{e}; rerun python -m sweeps.run on this workdir to recompute it") from e
    if len(codes) > 1:
        logging.warning("chunks were written by %d versions of the code: %s", len(codes), codes)
