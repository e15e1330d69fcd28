"""W3 of ``before_after``: the default job at an older revision and now, one after the other.

The whole sweep (``threshold_quick``, cold, compile included) at REV (a ``git worktree`` of it,
in a subprocess) and at this checkout, with the integrator steps each spent: ``computed``
counts what the vmapped while loops executed (lanes x the longest lane's steps in every
segment), ``useful`` the steps of runs without a verdict. All chunks run in one process, or
with ``command`` as README command 1 runs them (``python -m sweeps.run``: each revision's own
process count).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from alignment.runner import results

ROOT = Path(__file__).resolve().parent.parent
SWEEP_SCRIPT = """
import json, sys, time
try:
    from alignment import registry as sweep  # the packages' layout
except ImportError:
    from alignment import sweep  # before it
from sweeps.configs import threshold_quick
cfg = threshold_quick.get_config()
cfg.make_figures = False
t0 = time.perf_counter()
sweep.run(cfg, sys.argv[1])
print(json.dumps({"wall_s": time.perf_counter() - t0}))
"""


def steps_from_record(ds: xr.Dataset, lr: float) -> dict:
    """Steps of an older chunk file (every lane in every call; frozen lanes repeat their
    last snapshot): per segment, computed = lanes x the largest step increment."""
    steps = np.rint(ds["time"].values.astype(np.float64) / lr)
    inc = np.diff(steps, axis=1)
    return {"computed": int(np.sum(inc.max(axis=0)) * inc.shape[0]), "useful": int(inc.sum())}


def timed_job(src: Path, workdir: Path, command: bool) -> dict:
    """Wall seconds of the default job from the code in ``src``, in a subprocess: in one
    process (``SWEEP_SCRIPT``), or with ``command`` as README command 1 runs it
    (``python -m sweeps.run``: that revision's own process count; a fresh compilation cache)."""
    env = dict(os.environ, PYTHONPATH=str(src), ALIGNMENT_SHARD="0")
    cmd = [sys.executable, "-c", SWEEP_SCRIPT, str(workdir)]
    if command:
        cmd = [sys.executable, "-m", "sweeps.run", f"--workdir={workdir}"]
        cmd += [f"--compilation_cache_dir={workdir}_cache", "--config.make_figures=False"]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=src, env=env, check=True, capture_output=True, text=True)
    if command:
        return {"wall_s": time.perf_counter() - start}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_sweep(src: Path, workdir: Path, command: bool) -> dict:
    """The default job from the code in ``src`` (:func:`timed_job`); wall time and steps."""
    res = timed_job(src, workdir, command)
    computed = useful = 0
    verdicts = []
    for index in results.finished_chunks(workdir):
        ds = results.load_chunk(workdir, index)
        verdicts += list(ds["verdict"].values.astype(str))
        if "steps_computed" in ds.attrs:
            computed += int(ds.attrs["steps_computed"])
            useful += int(ds.attrs["steps_useful"])
        else:
            s = steps_from_record(ds, float(ds["lr"].values[0]))
            computed, useful = computed + s["computed"], useful + s["useful"]
    names, counts = np.unique(verdicts, return_counts=True)
    return res | {
        "steps_computed": computed,
        "steps_useful": useful,
        "steps_wasted": computed - useful,
        "verdicts": {str(k): int(c) for k, c in zip(names, counts, strict=True)},
    }


def compare_sweeps(rev: str, command: bool = False) -> dict:
    """W3 at ``rev`` (a temporary git worktree) and at this checkout, one after the other."""
    with tempfile.TemporaryDirectory(prefix="before_after_") as tmp:
        old = Path(tmp) / "src"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(old), rev],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            before = run_sweep(old, Path(tmp) / "before", command)
            after = run_sweep(ROOT, Path(tmp) / "after", command)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, capture_output=True
            )
    return {
        "mode": "python -m sweeps.run" if command else "one process",
        "before": before,
        "after": after,
        "wall_ratio_after_over_before": after["wall_s"] / before["wall_s"],
        "computed_ratio_after_over_before": after["steps_computed"] / before["steps_computed"],
    }
