"""threshold_widths: is the width m the limit of n*? n* at m = 100 and 200 in one setting.

The threshold_quick setting (linear teacher, d = 5, x ~ N(0, I), sigma = 0.5, lambda = 1e-6,
eta = 0.25; the same 10 n from 8 to 181, 8 seeds) at two widths, m = 100 and 200: 160 runs.
threshold_quick itself is m = 50, and threshold_axes moves m to 25 and 100. If n* agrees at
m = 100 and 200, a width of 100 is large enough for n* not to depend on m at d = 5.

Command:  python -m sweeps.run --config=sweeps/configs/threshold_widths.py \\
              --workdir=runs/threshold_widths
Runtime:  (measured, 2-core AMD EPYC) 4 min 48 s for the whole job, figures included (4 chunks:
          31.3 s and 75.2 s at m = 100, 39.9 s and 124.3 s at m = 200).
Result:   (measured) n* over the certified runs, 95% CI; n*(T) at T = 2.5e4, where every run
          has an outcome, after the bar:
              m = 50 (threshold_quick):  24.6 [19.5, 33.5] | 16.6 [14.6, 18.3]
              m = 100:                   27.7 [22.2, 34.8] | 19.6 [15.3, 24.7]
              m = 200:                   28.7 [18.6, 45.3] | 19.0 [15.9, 22.7]
          m = 100 and 200 agree (both estimates, well within each other's intervals), while
          m = 50 sits below them (n*(T): 16.6 against 19.0-19.6): from m = 100 on the width is
          not the limit at d = 5, and threshold_vs_d runs at m = 100. Verdicts at m = 100:
          25 interpolating, 24 stuck, 10 saddles, 21 undetermined (11 gd_edge, 10 moving);
          at m = 200: 24, 12, 19, 25 (18 gd_edge, 7 moving). figures/nstar_vs_m.
"""

from sweeps.configs import threshold_quick


def get_config():
    c = threshold_quick.get_config()
    c.name = "threshold_widths"
    c.m = (100, 200)
    c.neuron_seeds = 0  # no per-neuron arrays: this job is about verdicts
    return c
