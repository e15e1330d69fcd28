"""A first look at the mean-field family through the trainer (until it has sweep configs).

    python -m benchmarks.mean_field_probe

Single index, Hermite cubic, alpha = 0.3, tau = 0.3, a0 = 1, d = 50, m in {16, 32, 64}, 4 seeds,
the flow integrator (rtol 1e-3, float32) to t = 20 m on a log grid from 1e-2/m. Prints, per m,
the flow steps each run took, the time and value of the test minimum, and the end values of
train and test error, gamma and the overlap v (DESIGN.md section 3's claims (i) and (ii)).
"""

from __future__ import annotations

import time

import numpy as np

from alignment.engine import integrate, train
from alignment.mean_field import family as mf

D, ALPHA, TAU, SEEDS = 50, 0.3, 0.3, 4


def probe(m: int) -> dict:
    fam = mf.MeanField(d=D, m=m, n=round(ALPHA * m * D), act="hermite3", target="single_index")
    prog = train.Program(fam, integrate.Flow(rtol=1e-3), "float32")
    lanes = train.Lanes.make(seed=np.arange(SEEDS), tau=TAU, a0=1.0, train_a=1.0)
    times = np.concatenate([[0.0], np.geomspace(1e-2 / m, 20 * m, 40)])
    start = time.perf_counter()
    state, ctx = train.init_runs(prog, lanes, shard=False)
    state, snaps = train.train(prog, state, ctx, times, shard=False)
    test = np.asarray(snaps["test_loss"], np.float64)
    end = {
        k: np.round(np.asarray(snaps[k], np.float64)[:, -1], 4).tolist()
        for k in ("loss", "test_loss", "gamma", "overlap")
    }
    return {
        "m": m,
        "n": fam.n,
        "wall_s": round(time.perf_counter() - start, 1),
        "steps": np.asarray(state.step).tolist(),
        "t_test_min": np.round(times[np.argmin(test, axis=1)], 3).tolist(),
        "test_min": np.round(test.min(axis=1), 4).tolist(),
        "end": end,
        "bayes": TAU**2 / 2,
    }


if __name__ == "__main__":
    for width in (16, 32, 64):
        print(probe(width), flush=True)
