"""threshold_quick: the default main job, a small optimization-threshold sweep.

Linear teacher y = <beta*, x> + sigma eps in d = 5, x ~ N(0, I), sigma = 0.5; a width-50 ReLU
network from a small balanced init (lambda = 1e-6) trained by full-batch GD at eta = 0.25
(eta = 0.5 and 1 are unstable once small-n runs start to fit the noise: their loss oscillates
and never settles); 10 log-spaced n from 8 to 181, 8 seeds: 80 runs in two compiled programs.
Verdicts at t = 1e3 (4000 steps), then runs without one continue to t = 2.5e4 (1e5 steps).

Command:  python -m sweeps.run        (same as --config=sweeps/configs/threshold_quick.py)
Runtime:  about 2 min on a 2-core CPU: the sweep itself (training and verdict loop, compile
          included) measured 113 s by `python -m benchmarks.before_after` (W3 "after" in
          benchmarks/before_after.json; 123 s for the code before decided runs left), and
          129 s by `python -m benchmarks.throughput` (W3 in benchmarks/results.json), with the
          machine shared (load 2); figures add a few seconds. On one GPU about 30-60 s (an
          estimate, not measured: a few compilations plus 1e5 steps of small vmapped programs).
Result:   (measured) n* = 21.0, 95% CI [16.0, 24.4]; p(n) = 1 at n = 8, ~0.8 at 11-16, 0 from
          45 on. Of the 80 runs 21 interpolate, 30 are stuck near the least-squares fit (train
          MSE 0.75-0.95 x OLS; test MSE within ~10% of OLS from n = 64 on, while interpolating
          runs have 2-4x the OLS test error), and 29 are still moving at t = 2.5e4 (undetermined:
          slow interpolation near n*, and saddle-to-saddle escapes at large n, where new neuron
          directions keep appearing; see loss_vs_time and directions_*_cos). Longer caps (e.g.
          --config.time_cap=1e5, ~5 min) determine more of them; undetermined runs never enter p.
"""

from sweeps.configs import base


def get_config():
    c = base.get_config()
    c.name = "threshold_quick"
    c.data = "linear"
    c.d = (5,)
    c.x_dist = "gaussian"
    c.sigma = (0.5,)
    c.n = (8, 11, 16, 23, 32, 45, 64, 91, 128, 181)  # 8 * 2^(k/2)
    c.num_seeds = 8
    c.n_test = 500
    c.m = (50,)
    c.lam = (1e-6,)
    c.lr = (0.25,)
    c.max_time = 1e3
    c.t_min = 1.0
    c.num_snapshots = 121
    c.snapshots_per_decade = 40
    c.continue_factor = 10.0
    c.time_cap = 2.5e4
    c.continue_integrator = "same"  # GD continues (flow: see the docstring)
    c.bucket_waste = 1.0
    c.n_boot = 1000
    return c
