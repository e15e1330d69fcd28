"""threshold_vs_d: n* for d in {2, 3, 5, 8, 12, 20} and the power law n* ~ d^k.

The threshold_quick setting (linear teacher, x ~ N(0, I_d), sigma = 0.5, m = 50, lambda = 1e-6,
eta = 0.25) at six input dimensions; n from 4 to 362 (14 values, 4 * 2^(k/2)), 8 seeds: 672
runs. threshold.json holds n* per d and the fitted exponent k with its interval
(power_law_in_d); figures/nstar_vs_d shows both.

Command:  python -m sweeps.run --config=sweeps/configs/threshold_vs_d.py \\
              --workdir=runs/threshold_vs_d
Runtime:  TBD on a 2-core CPU; TBD on one GPU (estimate).
Result:   TBD.
"""

from sweeps.configs import threshold_quick


def get_config():
    c = threshold_quick.get_config()
    c.name = "threshold_vs_d"
    c.d = (2, 3, 5, 8, 12, 20)
    c.n = (4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362)
    c.num_seeds = 8
    c.neuron_seeds = 0
    return c
