"""threshold_vs_d: n* for d in {2, 3, 5, 8, 12, 20} and the power law n* ~ d^k.

The threshold_quick setting (linear teacher, x ~ N(0, I_d), sigma = 0.5, lambda = 1e-6,
eta = 0.25) at width m = 100 and six input dimensions; n from 4 to 362 (14 values,
4 * 2^(k/2)), 8 seeds: 672 runs. m = 100 because at d = 5 n* agrees at m = 100 and 200 while
m = 50 sits below (threshold_widths). threshold.json holds n* per d and the fitted exponent k
with its interval (power_law_in_d); figures/nstar_vs_d shows both with a d^3 reference.

Command:  python -m sweeps.run --config=sweeps/configs/threshold_vs_d.py \\
              --workdir=runs/threshold_vs_d
Runtime:  (measured, 2-core AMD EPYC) 13 min 56 s for the whole job, figures included
          (12 chunks of 40-72 runs, 36.9-160.1 s each). On one GPU:
          `python -m benchmarks.flop_budget` counts 1.79-44.7 TFLOP and 4.8e4-1.2e6 sequential
          steps, 0.04-1 min at an assumed 13.4 TFLOP/s and 50 us a step (an estimate).
Result:   (measured) n* per d over the certified runs, 95% CI; runs without a verdict of 112;
          n*(T) at T = 2.5e4, where every run has an outcome, after the bar:
              d = 2:  4 [below 4, 6]      45 | below 4
              d = 3:  9.97 [6.33, 13.7]   55 | 6.90 [4.64, 9.10]
              d = 5:  27.7 [22.3, 34.8]   40 | 19.9 [16.0, 24.7]
              d = 8:  69.3 [41.7, 106]    37 | 31.2 [17.1, 50.1]
              d = 12: not resolved        16 | 111 [56.1, 211]
              d = 20: not resolved         1 | not resolved
          d = 12: 8 of 8 interpolate at n = 181, and 15 of the 16 runs at n = 256 and 362 are
          still moving at the cap; the fit over the certified runs crosses 1/2 above the largest
          n tested. d = 20: every run at n >= 128 interpolates, so n* lies above 362.
          Power law over d = 3, 5, 8 (d = 2's interval is open below): k = 1.98 [1.39, 2.61],
          chi2/dof 0.007. n*(T) over d = 3, 5, 8, 12: k = 1.89 [1.40, 2.37], chi2/dof 1.36
          (threshold.json power_law_in_d[0].at_longest). Both lie below 3, and 3 is outside
          both intervals.
          At d >= 12 p(n) dips and comes back: runs get stuck for n from about d to 5d and
          interpolate again above (d = 12: 6 of 8 stuck at n = 32, 8 of 8 interpolating at
          n = 181; d = 20: 6 of 8 stuck at n = 64, all interpolating at n >= 128). So n ~ d is a
          separate stuck window, not the threshold. d = 12 and 20 need n beyond 362 and more
          time than the cap (a GPU job: the FLOP count above).
          At m = 50 (--config.m=50, an earlier run) the same job gave 8.6, 22.2 and 51.7 at
          d = 3, 5, 8, with k = 1.83 [1.11, 2.65]: every n* is lower at the smaller width.
"""

from sweeps.configs import threshold_quick


def get_config():
    c = threshold_quick.get_config()
    c.name = "threshold_vs_d"
    c.d = (2, 3, 5, 8, 12, 20)
    c.n = (4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 362)
    c.num_seeds = 8
    c.m = (100,)  # n* at d = 5 agrees at m = 100 and 200 (threshold_widths); m = 50 is below it
    c.neuron_seeds = 0
    c.bucket_waste = 2.0  # two buckets per d: 12 compiled programs
    return c
