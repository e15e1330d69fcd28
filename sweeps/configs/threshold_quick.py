"""threshold_quick: the default main job, a small optimization-threshold sweep.

Linear teacher y = <beta*, x> + sigma eps in d = 5, x ~ N(0, I), sigma = 0.5; a width-50 ReLU
network from a small balanced init (lambda = 1e-6) trained by faithful full-batch GD, each run's
step min(0.25, 1 / lambda_max) from its sharpness at the last snapshot (gd_step_sharpness = 1:
no run sits at the edge of stability); 10 log-spaced n from 8 to 181, 8 seeds: 80 runs in two
compiled programs. Verdicts at t = 1e3, then runs without one continue to t = 2.5e4.

Command:  python -m sweeps.run        (same as --config=sweeps/configs/threshold_quick.py)
Runtime:  (measured, 2-core AMD EPYC) 163 s for the whole job including compiles, certificates
          and figures (chunk 0, n <= 32: 46 s; chunk 1: 105 s). The revision before faithful
          GD and the kink test (25ea7a1: fixed step 0.25) took 112 s on the same machine and
          left 35 runs without a verdict, 22 of them GD at the edge of stability.
Result:   (measured) 24 interpolating, 43 stuck (21 certified by every criterion, 22
          `at_minimum`: within the gap of a region minimum that the escape and kink tests
          certify a local minimum, still approaching it), 4 saddles (a small neuron escapes),
          9 undetermined (6 `escaping`: a small neuron growing, predicted escape times 2e4-1e7;
          3 `moving`): 13 of 80 without a verdict. Every run faithful (largest eta * lambda_max
          1.96). Per n, verdict/criterion (threshold.json decided_by_n): 8: 8 interpolating;
          11: 5 interpolating, 3 at_minimum; 16: 5 interpolating, 2 at_minimum, 1 saddle;
          23: 2 at_minimum, 1 saddle, 4 escaping, 1 moving; 32: 3 interpolating, 3 at_minimum,
          1 certified, 1 escaping; 45: 1 interpolating, 3 at_minimum, 3 certified, 1 escaping;
          64: 1 interpolating, 4 at_minimum, 3 certified; 91: 1 interpolating, 1 at_minimum,
          5 certified, 1 saddle; 128: 1 at_minimum, 5 certified, 1 saddle, 1 moving; 181:
          3 at_minimum, 4 certified, 1 moving. n* = 21.7, 95% CI [14.2, 31.7] over the
          decided runs; the 13 open runs counted as interpolating give 32.4 [22.9, 46.7], as
          not 17.8 [12.2, 24.7]: the interval covering both is [12.2, 46.7]. n*(T): 12.7
          [10.6, 15.2] at T = 1e3, 16.3 [12.1, 21.5] at 1e4, 17.8 [12.2, 24.7] at 2.5e4 (the
          last two overlap: settled). The run that fixed-step GD called stuck falsely (n = 181,
          seed 2 at t = 1e4; gradient flow from it leaves) is a kink saddle by the kink test
          (tests/test_kinks.py).
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
