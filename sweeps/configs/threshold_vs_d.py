"""threshold_vs_d: n* for d in {2, 3, 5, 8, 12, 20} and the power law n* ~ d^k.

The threshold_quick setting (linear teacher, x ~ N(0, I_d), sigma = 0.5, m = 50, lambda = 1e-6,
eta = 0.25) at six input dimensions; n from 4 to 362 (14 values, 4 * 2^(k/2)), 8 seeds: 672
runs. threshold.json holds n* per d and the fitted exponent k with its interval
(power_law_in_d); figures/nstar_vs_d shows both.

Command:  python -m sweeps.run --config=sweeps/configs/threshold_vs_d.py \\
              --workdir=runs/threshold_vs_d
Runtime:  (measured, 2-core AMD EPYC, light other load) 11 min 22 s for the whole job, figures
          included (12 chunks of 40-72 runs, 32-83 s each). On one GPU:
          `python -m benchmarks.flop_budget` counts 0.896-22.4 TFLOP and 4.8e4-1.2e6 sequential
          steps, 0.04-1 min at an assumed 13.4 TFLOP/s and 50 us a step (an estimate).
Result:   (measured) n* per d over the certified runs, 95% CI; runs without a verdict:
              d = 2:  4 [below 4, 6]      47 of 112 without a verdict
              d = 3:  8.6 [6.6, 10.0]     51
              d = 5:  22.2 [19.4, 25.2]   42
              d = 8:  51.7 [25.0, 111]    39
              d = 12: not resolved (the crossing lies above 181; every run at n >= 256 open)
              d = 20: not resolved (p(n) is not monotone: below)
          Power law over d = 3, 5, 8 (d = 2's interval is open below): k = 1.83 [1.11, 2.65],
          chi2/dof 0.024. n*(T) at T = 2.5e4, where every run has an outcome: 6.4, 15.3, 24.0,
          62.6 [33.7, 106] at d = 3, 5, 8, 12, k = 1.57 [1.11, 1.99] (threshold.json
          power_law_in_d[0].at_longest). Both exponents lie well below 3.
          At d >= 8 p(n) dips and comes back: the runs get stuck for n from about d to 4d and
          interpolate again above. At d = 12, 5 of 8 stuck at n = 16 and 8 of 8 interpolating at
          n = 128; at d = 20, 4-6 of 8 stuck at n = 16-64 and all interpolating at n >= 181. So
          n ~ d is a separate stuck window, not the threshold, and d = 12 and 20 need n beyond
          362 (a GPU job: the FLOP count above).
"""

from sweeps.configs import threshold_quick


def get_config():
    c = threshold_quick.get_config()
    c.name = "threshold_vs_d"
    c.d = (2, 3, 5, 8, 12, 20)
    c.n = (4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362)
    c.num_seeds = 8
    c.neuron_seeds = 0
    c.bucket_waste = 2.0  # two buckets per d: 12 compiled programs
    return c
