"""Regenerates ``vanishing_groups.npz``: a stuck run whose region minimum empties small groups.

threshold_wide, n = 64, seed 10, as its verdict loop left it at f8d07a8: certified stuck at
t = 1.4e5, 1.4e-4 above its region minimum. Six groups of small neurons (sizes up to 8e-5) have
vectors of ~1e-7 there; the polished point keeps their members, which puts 2.9e-4 into its
residual. With that residual a small neuron's growth rate reads 2.9e-6, with the minimum's own
~1e-13. The run is a false stuck: the flow at rtol 1e-5 and GD at caps 1 and 1/2 leave it;
its certificates miss a descent across those groups' kinks (BENCHMARKS.md). Saves
its end parameters, training set and record (time, loss, stationarity speed), float64. Its
chunk is made at that revision:

    git worktree add /tmp/old f8d07a8 && cd /tmp/old
    python -m sweeps.run --config=sweeps/configs/threshold_wide.py --workdir=/tmp/wide \\
        --config.max_lanes=8 --config.snapshots_per_call=4 --chunks=13    (about 6 min, 1 core)
    python tests/data/make_vanishing_groups.py /tmp/wide
"""

import sys
from pathlib import Path

import numpy as np

from alignment.two_layer import grid
from benchmarks import stored

N, SEED = 64, 10


def main(workdir: str) -> None:
    cfg = stored.load_config(workdir)
    runs = grid.expand(cfg)

    def has_run(ds):
        return np.any((ds["n"].values == N) & (ds["seed"].values == SEED))

    found = [(c, ds) for c, ds in stored.finished_chunks(cfg, workdir) if has_run(ds)]
    if not found:
        raise SystemExit(f"{workdir} has no chunk with n = {N}, seed = {SEED}")
    chunk, ds = found[0]
    lane = int(np.flatnonzero((ds["n"].values == N) & (ds["seed"].values == SEED))[0])
    state, ctx = stored.ended_state(runs, chunk, ds)
    w, a, x, y = stored.run_arrays(state.params, ctx, lane)
    run = ds.isel(run=lane)
    time = run["time"].values
    has = np.isfinite(time)
    out = {
        "w": w,
        "a": a,
        "x": x,
        "y": y,
        "time_K": time[has].astype(np.float64),
        "loss_K": run["loss"].values[has].astype(np.float64),
        "speed_K": run["speed"].values[has].astype(np.float64),
        "verdict": str(run["verdict"].values),
        "decided_by": str(run["decided_by"].values),
    }
    path = Path(__file__).with_name("vanishing_groups.npz")
    np.savez(path, **out)
    print({k: v for k, v in out.items() if np.ndim(v) == 0}, out["time_K"][-1], "->", path)


if __name__ == "__main__":
    main(sys.argv[1])
