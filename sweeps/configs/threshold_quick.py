"""threshold_quick: the default main job, a small optimization-threshold sweep.

Linear teacher y = <beta*, x> + sigma eps in d = 5, x ~ N(0, I), sigma = 0.5; a width-50 ReLU
network from a small balanced init (lambda = 1e-6) trained by full-batch GD at eta = 0.25
(eta = 0.5 and 1 are unstable once small-n runs start to fit the noise: their loss oscillates
and never settles); 10 log-spaced n from 8 to 181, 8 seeds: 80 runs in two compiled programs.
Verdicts at t = 1e3 (4000 steps), then runs without one continue to t = 2.5e4 (1e5 steps).

Command:  python -m sweeps.run        (same as --config=sweeps/configs/threshold_quick.py)
Runtime:  (measured, 2-core CPU, machine shared) 88 s for the whole job including compiles,
          certificates and figures (the verdict loop alone: 66-76 s in two runs of
          `python -m benchmarks.verdicts`). With --config.continue_integrator=flow (runs
          without a verdict continue by gradient flow instead of GD): 616 s, under a parallel
          test run; the flow is held to dt < ~2.5 / lambda_max, lambda_max up to ~20 here.
Result:   (measured) 21 interpolating, 24 stuck (every one certified: region minimum, no
          escaping neuron, stationary), 5 saddles (a small neuron escapes), 30 undetermined
          (29 still moving at t = 2.5e4, mostly GD at the edge of stability: eta * lambda_max
          1.98-2.07 in step_sharpness; 1 at its region minimum but still moving). Per n
          (interpolating / stuck / saddle / undetermined): 8: 8/0/0/0, 11: 6/1/1/0,
          16: 6/0/1/1, 23: 0/0/1/7, 32: 1/2/0/5, 45: 0/4/0/4, 64: 0/5/0/3, 91: 0/4/0/4,
          128: 0/4/2/2, 181: 0/4/0/4. n* = 24.6, 95% CI [19.5, 33.0] over the certified runs;
          the 35 runs without a verdict counted as interpolating give n* = 97.7 [56.1, above
          the range], counted as not 16.6 [14.6, 18.3]: the interval covering both is
          [14.6, above 181]. n*(T): 12.7 [10.6, 15.2] at T = 1e3, 16.6 [14.6, 18.3] at 1e4 and
          2.5e4. Continued 10x longer, 23 of the 24 stuck runs lose < 0.03% of their loss; one
          (n = 181, seed 2) loses 26% (benchmarks/verdicts_threshold_quick.json).
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
