"""threshold_quick: the default main job, a small optimization-threshold sweep.

Linear teacher y = <beta*, x> + sigma eps in d = 5, x ~ N(0, I), sigma = 0.5; a width-50 ReLU
network from a small balanced init (lambda = 1e-6) trained by full-batch GD at eta = 0.25
(eta = 0.5 and 1 are unstable once small-n runs start to fit the noise: their loss oscillates
and never settles); 10 log-spaced n from 8 to 181, 8 seeds: 80 runs in two compiled programs.
Verdicts at t = 1e3 (4000 steps), then runs without one continue to t = 2.5e4 (1e5 steps).

Command:  python -m sweeps.run        (same as --config=sweeps/configs/threshold_quick.py)
Runtime:  (measured, 2-core AMD EPYC) 97 s for the whole job including compiles, certificates
          and figures (the verdict loop alone: 77 s in `python -m benchmarks.verdicts`). With
          --config.continue_integrator=flow (runs without a verdict continue by gradient flow
          instead of GD): 616 s on an earlier machine, under a parallel test run; the flow is
          held to dt < ~2.5 / lambda_max, lambda_max up to ~20 here.
Result:   (measured) 21 interpolating, 23 stuck (every one certified: region minimum, no
          escaping neuron, stationary), 5 saddles (a small neuron escapes), 31 undetermined:
          21 `gd_edge` (still moving, GD at the edge of stability: last eta * lambda_max >= 1.9),
          9 `moving`, 1 `not_stationary` (at its region minimum but still moving).
          Per n, verdict/criterion (threshold.json decided_by_n): 8: 8 interpolating;
          11: 6 interpolating, 1 stuck, 1 saddle; 16: 6 interpolating, 1 saddle, 1 gd_edge;
          23: 3 gd_edge, 5 moving; 32: 1 interpolating, 2 stuck, 4 gd_edge, 1 moving;
          45: 4 stuck, 3 gd_edge, 1 moving; 64: 4 stuck, 1 saddle, 1 gd_edge, 1 moving,
          1 not_stationary; 91: 4 stuck, 3 gd_edge, 1 moving; 128: 4 stuck, 2 saddles,
          2 gd_edge; 181: 4 stuck, 4 gd_edge. n* = 24.6, 95% CI
          [19.5, 33.5] over the certified runs; the 36 runs without a verdict counted as
          interpolating give n* = 104.8 [60.2, above the range], counted as not 16.6
          [14.6, 18.3]: the interval covering both is [14.6, above 181]. n*(T): 12.7
          [10.6, 15.2] at T = 1e3, 16.6 [14.6, 18.3] at 1e4 and 2.5e4. Continued 10x longer
          by GD, 22 of the 23 stuck runs lose < 2e-4 of their loss; one (n = 181, seed 2,
          stuck at t = 1e4) loses 23% (benchmarks/verdicts_threshold_quick.json), and gradient
          flow from the same state leaves too (loss 0.0991 -> 0.0178 by t = 1e5): its 50
          neurons are all large (no small neuron for the escape test) and it sits 1.3e-4 above
          its region's minimum, so no certificate of DESIGN section 2 sees that saddle.
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
