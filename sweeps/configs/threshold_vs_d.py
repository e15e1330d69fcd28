"""threshold_vs_d: n* for d in {2, 3, 5, 8, 12, 20} and the power law n* ~ d^k.

The threshold_quick setting (linear teacher, x ~ N(0, I_d), sigma = 0.5, m = 50, lambda = 1e-6,
eta = 0.25) at six input dimensions; n from 4 to 362 (14 values, 4 * 2^(k/2)), 8 seeds: 672
runs. threshold.json holds n* per d and the fitted exponent k with its interval
(power_law_in_d); figures/nstar_vs_d shows both.

Command:  python -m sweeps.run --config=sweeps/configs/threshold_vs_d.py \\
              --workdir=runs/threshold_vs_d
Runtime:  roughly 30-60 min on a 2-core CPU (estimate, not run: 8.4x the runs of
          threshold_quick, per-step cost growing with d, 12 compiled programs); on one GPU about
          5-10 min (estimate).
Result:   not measured here. threshold.json gets n* per d and power_law_in_d (k with its
          interval); groups whose n* is not resolved within n in [4, 362] are left out of the fit.
"""

from sweeps.configs import threshold_quick


def get_config():
    c = threshold_quick.get_config()
    c.name = "threshold_vs_d"
    c.d = (2, 3, 5, 8, 12, 20)
    c.n = (4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362)
    c.num_seeds = 8
    c.neuron_seeds = 0
    c.bucket_waste = 2.0  # two buckets per d: 12 compiled programs
    return c
