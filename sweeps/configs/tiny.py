"""tiny: a smoke test of the whole pipeline (train, verdicts, n*, results, figures).

Command:  python -m sweeps.run --config=sweeps/configs/tiny.py --workdir=runs/tiny
Runtime:  about a minute on a 2-core CPU (mostly compilation); seconds on a GPU.
Result:   summary.csv with 24 runs, threshold.json, trajectories.nc and figures/; at this size
          n* is usually not resolved (too few seeds) and threshold.json says why.
"""

from sweeps.configs import base


def get_config():
    c = base.get_config()
    c.name = "tiny"
    c.d = (3,)
    c.n = (4, 16, 64)
    c.num_seeds = 4
    c.m = (16,)
    c.lam = (1e-2,)
    c.lr = (0.2,)
    c.sigma = (0.3,)
    c.n_test = 200
    c.max_time = 1e3
    c.t_min = 1.0
    c.num_snapshots = 40
    c.time_cap = 1e4
    c.snapshots_per_decade = 10
    c.n_boot = 200
    c.bucket_waste = 100.0  # one bucket: a single compiled program
    return c
