"""Regenerates ``false_stuck.npz``: the state of the run that fixed-step GD called stuck falsely.

threshold_quick's chunk of large n, trained by its verdict loop with the fixed step to
t = 1e4, where the revision before faithful GD and the kink test called the run n = 181,
seed 2 stuck; gradient flow from that state leaves (loss 0.0991 -> 0.0178 by t = 1e5,
BENCHMARKS.md). Saves its parameters and its training set, float64. The trajectory depends on
that revision's verdicts (which runs continue, in which batches), so it is made there:

    git worktree add /tmp/old 25ea7a1
    PYTHONPATH=/tmp/old python tests/data/make_false_stuck.py    (about a minute, 2 cores)
"""

from pathlib import Path

import jax
import numpy as np

from alignment.runner import chunk_loop
from alignment.two_layer import grid, job
from sweeps.configs import threshold_quick

N, SEED = 181, 2


def main() -> None:
    cfg = threshold_quick.get_config()
    if "gd_step_sharpness" in cfg:
        cfg.gd_step_sharpness = 0.0
    cfg.time_cap = 1e4
    runs = grid.expand(cfg)
    chunks = job.validate(cfg, runs)
    (chunk,) = [c for c in chunks if N in runs["n"][np.asarray(c.run_ids)]]
    task = job.chunk_task(cfg, runs, chunk)
    book, state = chunk_loop.train(task, None, chunk.index)
    ids = np.asarray(chunk.run_ids)
    lane = int(np.flatnonzero((runs["seed"][ids] == SEED) & (runs["n"][ids] == N))[0])
    params, fctx = jax.device_get((state.params, task.ctx.family))
    keep = np.asarray(fctx.train.mask_N[lane]) > 0
    loop = task.loop(book)
    out = {
        "w": np.asarray(params["w"][lane], np.float64),
        "a": np.asarray(params["a"][lane], np.float64),
        "x": np.asarray(fctx.train.x_NxD[lane], np.float64)[keep],
        "y": np.asarray(fctx.train.y_N[lane], np.float64)[keep],
        "loss_1e3": float(loop.snaps["loss"][lane][cfg.num_snapshots - 1]),
        "loss": float(loop.snaps["loss"][lane][np.nanargmax(loop.snaps["time"][lane])]),
        "time": float(np.nanmax(loop.snaps["time"][lane])),
        "verdict_fixed_gd": str(loop.verdict[lane]),
    }
    path = Path(__file__).with_name("false_stuck.npz")
    np.savez(path, **out)
    print({k: v for k, v in out.items() if np.ndim(v) == 0}, "->", path)


if __name__ == "__main__":
    main()
