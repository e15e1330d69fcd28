"""threshold_quick: the default main job, a small optimization-threshold sweep.

Linear teacher y = <beta*, x> + sigma eps in d = 5, x ~ N(0, I), sigma = 0.5; a width-50 ReLU
network from a small balanced init (lambda = 1e-6) trained by faithful full-batch GD, each run's
step min(0.25, 1 / lambda_max) from its sharpness at the last snapshot (gd_step_sharpness = 1:
no run sits at the edge of stability); 10 log-spaced n from 8 to 181, 8 seeds: 80 runs in two
compiled programs. Verdicts at t = 1e3, then runs without one continue to t = 2.5e4.

Command:  python -m sweeps.run        (same as --config=sweeps/configs/threshold_quick.py)
Runtime:  (measured, 2-core Intel Xeon (family 6, model 167), `python -m benchmarks.config_result
          --config=threshold_quick`, compilation cache off) 99 s for the whole job including
          compiles, certificates and figures, its two chunks in two worker processes (one per
          core, the default on a CPU); `python -m benchmarks.cold_start` times it cold
          and with the persistent cache warm against the revision before (BENCHMARKS.md, "A new
          process"). The revision before faithful GD and the kink test (25ea7a1: fixed step
          0.25) took 112 s on a 2-core AMD EPYC and left 35 runs without a verdict, 22 of them
          GD at the edge of stability.
Result:   (measured, same run) 24 interpolating, 39 stuck (26 certified by every criterion, 9
          `at_minimum`: slow now and within the gap of a region minimum that the escape and
          kink tests certify a local minimum; 4 `polished`: still fast, or with a small neuron
          growing only until the large ones arrive, but in the neighbourhood of such a minimum,
          certified again at the minimum itself), 9 saddles (6 escape, 3 kink), 8 undetermined
          (2 `escaping`, 3 `moving`, 2 `not_stationary`, 1 `on_its_way`): 17 of 80 without a
          verdict. Every run faithful (largest eta * lambda_max 1.88). Per n, verdict/criterion
          (threshold.json decided_by_n): 8: 8 interpolating; 11: 5 interpolating, 2 at_minimum,
          1 polished; 16: 5 interpolating, 1 at_minimum, 1 certified, 1 not_stationary; 23:
          3 escape, 1 at_minimum, 2 polished, 2 escaping; 32: 3 interpolating, 1 kink,
          1 at_minimum, 1 certified, 1 moving, 1 on_its_way; 45: 1 interpolating, 2 at_minimum,
          4 certified, 1 polished; 64: 1 interpolating, 1 escape, 1 at_minimum, 3 certified,
          1 moving, 1 not_stationary; 91: 1 interpolating, 7 certified; 128: 1 escape, 1 kink,
          6 certified; 181: 1 escape, 1 kink, 1 at_minimum, 4 certified, 1 moving. n* = 22.1,
          95% CI [15.1, 34.3] over the decided runs; the 17 open runs counted as interpolating
          give 40.5 [24.5, 84.2], as not 17.8 [12.8, 23.8]: the interval covering both is
          [12.8, 84.2]. n*(T): 12.7 [10.6, 15.2] at T = 1e3, 17.4 [12.8, 22.1] at 1e4, 17.8
          [12.8, 23.8] at 2.5e4 (the last two overlap: settled). Which runs stay open depends on
          float32 rounding: the trainer's lane blocks (BENCHMARKS.md, "What limits the rest") and
          the continuation in the chunk's own program change how these trajectories round, and
          runs that sit at a saddle until rounding pushes them off can end with another verdict
          (the revision before them left 13 open: `benchmarks.cold_start`). The run that
          fixed-step GD called stuck falsely (n = 181, seed 2 at t = 1e4; gradient flow from it
          leaves) is a kink saddle by the kink test (tests/test_kinks.py).
          `--config.escape_cap=2.5e5` continues the open runs whose predicted escape or
          interpolation is near one decade past the cap (`python -m benchmarks.config_result
          --config=threshold_quick --set=escape_cap=2.5e5` measures what it decides and costs).
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
    # beyond time_cap, only runs whose end is near continue, up to this (rounds.near_end)
    c.escape_cap = 1e5
    c.bucket_waste = 1.0
    c.n_boot = 1000
    return c
