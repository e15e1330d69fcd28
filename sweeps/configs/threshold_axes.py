"""threshold_axes: how n* moves with sigma, lambda, m and eta, one axis at a time.

Around the threshold_quick setting (linear teacher, d = 5, x ~ N(0, I), sigma = 0.5,
lambda = 1e-6, m = 50, eta = 0.25; the same 10 n from 8 to 181, 8 seeds), each sub-sweep moves
one axis and keeps the others at the default; the default itself is the sub-sweep `default`:
  sigma  0.25, 1.0        lam  1e-8, 1e-4        m  25, 100        lr  0.1
(eta = 0.5 and 1 are unstable here: threshold_quick's docstring). 8 groups, 640 runs.
figures/nstar_vs_{sigma,lam,m,lr} show n* against each axis with the default in place.

Command:  python -m sweeps.run --config=sweeps/configs/threshold_axes.py \\
              --workdir=runs/threshold_axes
Runtime:  (measured, 2-core AMD EPYC, light other load) 11 min 7 s, figures included
          (12 chunks).
Result:   (measured) n* over the certified runs, 95% CI, [runs without a verdict of 80];
          n*(T) at T = 2.5e4 (every run has an outcome) after the bar:
              default (sigma 0.5, lambda 1e-6, m 50, eta 0.25): 24.6 [19.5, 33.5] [36] | 16.6
              sigma 0.25:   23.8 [14.5, 39.8] [26] | 15.7
              sigma 1.0:    20.2 [13.3, 31.2] [47] | 14.2
              lambda 1e-8:  17.5 [11.5, 25.7] [34] | 13.7
              lambda 1e-4:  30.2 [20.4, 41.4] [40] | 18.7
              m 25:         16.3 [12.4, 20.7] [28] | 12.6
              m 100:        27.7 [22.2, 34.8] [31] | 19.6
              eta 0.1:      32.7 [23.8, 49.8] [34] | 18.3
          sigma does not move n* within its intervals. A larger lambda raises it (17.5 -> 30.2
          over four decades, n*(T) 13.7 -> 18.7). So does a wider network (16.3 at m = 25, 27.7
          at m = 100: m = 50 is not yet wide enough for n* to be width-independent). A smaller
          step raises it too (eta 0.1: 32.7 against 24.6). Each of these shifts is within about
          twice the intervals' half-widths; the runs without a verdict (26-47 of 80) leave every
          both-ways interval open above.
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
