"""threshold_axes: how n* moves with sigma, lambda, m and eta, one axis at a time.

Around the threshold_quick setting (linear teacher, d = 5, x ~ N(0, I), sigma = 0.5,
lambda = 1e-6, m = 50, eta = 0.25; the same 10 n from 8 to 181, 8 seeds), each sub-sweep moves
one axis and keeps the others at the default; the default itself is the sub-sweep `default`:
  sigma  0.25, 1.0        lam  1e-8, 1e-4        m  25, 100        lr  0.1
(eta = 0.5 and 1 are unstable here: threshold_quick's docstring). 8 groups, 640 runs.
figures/nstar_vs_{sigma,lam,m,lr} show n* against each axis with the default in place.

Command:  python -m sweeps.run --config=sweeps/configs/threshold_axes.py \\
              --workdir=runs/threshold_axes
RESULTS
"""

import ml_collections

from sweeps.configs import threshold_quick


def get_config():
    c = threshold_quick.get_config()
    c.name = "threshold_axes"
    c.neuron_seeds = 0  # no per-neuron arrays: this job is about verdicts
    c.sweeps = ml_collections.ConfigDict()
    c.sweeps.default = ml_collections.ConfigDict({})
    c.sweeps.sigma = ml_collections.ConfigDict({"sigma": (0.25, 1.0)})
    c.sweeps.lam = ml_collections.ConfigDict({"lam": (1e-8, 1e-4)})
    c.sweeps.m = ml_collections.ConfigDict({"m": (25, 100)})
    c.sweeps.lr = ml_collections.ConfigDict({"lr": (0.1,)})
    return c
