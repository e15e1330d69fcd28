"""phase_diagram: interpolation probability over n x lambda and n x eta.

Two sub-sweeps around the threshold_quick setting (linear teacher, d = 5, sigma = 0.5, m = 50):
  lam   n x lambda in {1e-6, 1e-4, 1e-2, 1e-1} at eta = 0.25;
  lr    n x eta in {0.1, 0.25, 0.5} at lambda = 1e-6.
n in {8, 16, 32, 64, 128}, 6 seeds. Time cap 1e4 (1e5 steps at eta = 0.1).

Command:  python -m sweeps.run --config=sweeps/configs/phase_diagram.py --workdir=runs/phase_diagram
Runtime:  about 4-6 min on a 2-core CPU (estimate from threshold_quick: 210 runs in four
          programs, up to 1e5 steps); on one GPU about 1-2 min (estimate). Not run here.
Result:   not run as a whole. threshold_quick with --config.lam overridden (measured here):
          n* = 17.0 [10.4, 26.6] at lambda = 1e-12, 21.0 [16.0, 24.4] at 1e-6, 44.4 [36.3, 59.2]
          at 1e-3: n* grows with lambda. Larger step sizes interpolate less at small n (at
          eta = 0.5 and 1 the loss of small-n runs oscillates instead of going to zero).
"""

import ml_collections

from sweeps.configs import threshold_quick


def get_config():
    c = threshold_quick.get_config()
    c.name = "phase_diagram"
    c.n = (8, 16, 32, 64, 128)
    c.num_seeds = 6
    c.max_time = 1e3
    c.time_cap = 1e4
    c.neuron_seeds = 0  # no per-neuron arrays: this job is about verdicts
    c.sweeps = ml_collections.ConfigDict()
    c.sweeps.lam = ml_collections.ConfigDict({"lam": (1e-6, 1e-4, 1e-2, 1e-1), "lr": (0.25,)})
    c.sweeps.lr = ml_collections.ConfigDict({"lam": (1e-6,), "lr": (0.1, 0.25, 0.5)})
    return c
