"""threshold_wide: the second setting of the certified-verdict check, wider and in float64.

threshold_quick's data (linear teacher in d = 5, x ~ N(0, I), sigma = 0.5, the same 10 n from 8
to 181) with a network four times wider (m = 200), a larger small init (lambda = 1e-4), float64
and 16 seeds: 160 runs. GD at eta = 0.25, verdicts at t = 1e3, continued to t = 2.5e4.

Command:  python -m sweeps.run --config=sweeps/configs/threshold_wide.py \\
              --workdir=runs/threshold_wide
RESULTS
"""

from sweeps.configs import threshold_quick


def get_config():
    c = threshold_quick.get_config()
    c.name = "threshold_wide"
    c.m = (200,)
    c.lam = (1e-4,)
    c.dtype = "float64"
    c.num_seeds = 16
    c.neuron_seeds = 1
    return c
