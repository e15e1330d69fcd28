"""mf_tiny: a smoke test of the mean-field job (train, claims, results, figures).

Command:  python -m sweeps.run --config=sweeps/configs/mf_tiny.py --workdir=runs/mf_tiny
Runtime:  about 50 s on a 2-core CPU (measured 48 s, figures included).
Result:   d = 8, m in {8, 16}, both targets, mean-field, lazy and frozen-a runs, 2 seeds, to
          t = 20 m: every output and figure; too small for the claims' numbers to mean much.
"""

from alignment.mean_field import config as mf_config


def get_config():
    c = mf_config.get_config()
    c.name = "mf_tiny"
    c.d = 8
    c.m = (8, 16)
    c.target = ("single_index", "pure_noise")
    c.tau = (0.5,)
    c.a0 = (1.0,)
    c.lazy_gamma0 = (0.5,)
    c.frozen_gamma = (0.1, 0.3, 1.0)
    c.frozen_seeds = 1
    c.num_seeds = 2
    c.t_max = 20.0
    c.num_snapshots = 24
    c.snapshots_per_call = 8
    return c
