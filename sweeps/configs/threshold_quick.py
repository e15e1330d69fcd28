"""threshold_quick: the default main job, a small optimization-threshold sweep.

Linear teacher y = <beta*, x> + sigma eps in d = 5, x ~ N(0, I), sigma = 0.5; a width-50 ReLU
network from a small balanced init (lambda = 1e-6) trained by faithful full-batch GD, each run's
step min(0.25, 1 / lambda_max) from its sharpness at the last snapshot (gd_step_sharpness = 1:
no run sits at the edge of stability); 10 log-spaced n from 8 to 181, 8 seeds: 80 runs in two
compiled programs. Verdicts at t = 1e3, then runs without one continue to t = 2.5e4.

Command:  python -m sweeps.run        (same as --config=sweeps/configs/threshold_quick.py)
Runtime:  (measured, 2-core AMD EPYC, `python -m benchmarks.config_result
          --config=threshold_quick`) 174 s for the whole job including compiles, certificates
          and figures (the verdict loop: chunk 0, n <= 32: 45 s; chunk 1: 118 s, in
          `python -m benchmarks.verdicts`). The revision before faithful GD and the kink test
          (25ea7a1: fixed step 0.25) took 112 s on the same machine and left 35 runs without a
          verdict, 22 of them GD at the edge of stability.
Result:   (measured) 26 interpolating, 37 stuck (25 certified by every criterion, 12
          `at_minimum`: slow now and within the gap of a region minimum that the escape and
          kink tests certify a local minimum, still approaching it), 6 saddles (3 escape,
          2 kink, 1 split), 11 undetermined (7 `escaping`: a small neuron growing; 3
          `not_stationary`; 1 `moving`): 17 of 80 without a verdict. Every run faithful
          (largest eta * lambda_max 1.96). Continued 10x longer, no stuck run loses more than
          2.5e-4 of its loss (BENCHMARKS.md). Per n, verdict/criterion (threshold.json
          decided_by_n): 8: 8 interpolating; 11: 5 interpolating, 2 at_minimum, 1 certified;
          16: 5 interpolating, 1 at_minimum, 1 escape, 1 not_stationary; 23: 1 at_minimum,
          1 escape, 4 escaping, 1 moving, 1 not_stationary; 32: 3 interpolating, 2 at_minimum,
          1 certified, 1 escaping, 1 not_stationary; 45: 2 interpolating, 1 at_minimum,
          4 certified, 1 escaping; 64: 2 interpolating, 2 at_minimum, 3 certified, 1 escaping;
          91: 1 interpolating, 6 certified, 1 escape; 128: 7 certified, 1 kink; 181:
          3 at_minimum, 3 certified, 1 kink, 1 split. n* = 27.2, 95% CI [16.1, 45.8] over the
          decided runs; the 17 open runs counted as interpolating give 44.7 [28.4, 87.8], as
          not 19.0 [12.3, 29.3]: the interval covering both is [12.3, 87.8]. n*(T): 12.7
          [10.6, 15.2] at T = 1e3, 16.3 [12.1, 20.7] at 1e4, 19.0 [12.3, 29.3] at 2.5e4 (the
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
