"""threshold_wide: the second setting of the certified-verdict check, wider and in float64.

threshold_quick's data (linear teacher in d = 5, x ~ N(0, I), sigma = 0.5, the same 10 n from 8
to 181) with a network four times wider (m = 200), a larger small init (lambda = 1e-4), float64
and 16 seeds: 160 runs. GD at eta = 0.25, verdicts at t = 1e3, continued to t = 2.5e4.

Command:  python -m sweeps.run --config=sweeps/configs/threshold_wide.py \\
              --workdir=runs/threshold_wide
Runtime:  (measured, 2-core AMD EPYC, other jobs on the machine for part of it) 13 min 47 s for
          the whole job (chunk 0, n <= 32: 70 s; chunk 1, n >= 45: 742 s, 70 of its 80 runs
          continuing past t = 1e4).
Result:   (measured) 63 interpolating, 14 stuck (certified), 12 saddles (escape), 71
          undetermined (70 moving, 1 not_stationary): 83 of 160 without a verdict. 57 of the
          71 undetermined runs end with eta * lambda_max in [1.97, 2.12] (step_sharpness): GD at
          the edge of stability, no longer following gradient flow (the run predates the
          `gd_edge` label; by its rule, last eta * lambda_max >= 1.9, those 57 read `gd_edge`
          and 13 `moving`). Per n, verdict/criterion:
          8: 16 interpolating; 11: 12 interpolating, 2 stuck, 2 moving; 16: 13 interpolating,
          3 stuck; 23: 7 interpolating, 9 moving; 32: 11 interpolating, 1 stuck, 4 moving;
          45: 4 interpolating, 2 stuck, 1 saddle, 8 moving, 1 not_stationary; 64: 2 stuck,
          5 saddles, 9 moving; 91: 1 stuck, 4 saddles, 11 moving; 128: 3 stuck, 13 moving;
          181: 2 saddles, 14 moving. n* = 54.1, 95% CI [40.9, above 181] over the certified
          runs; counted as interpolating the runs without a verdict put n* above 181, counted
          as not 26.1 [22.2, 31.2]; the interval covering both is open on both sides. n*(T):
          12.7 [11.5, 13.6] at T = 1e3, 22.8 [19.6, 27.3] at 1e4, 26.1 [22.2, 31.2] at 2.5e4.
          Against threshold_quick (m = 50, lambda = 1e-6, float32): n*(2.5e4) 26.1 vs 16.6.
"""

from sweeps.configs import threshold_quick


def get_config():
    c = threshold_quick.get_config()
    c.name = "threshold_wide"
    c.m = (200,)
    c.lam = (1e-4,)
    c.dtype = "float64"
    c.num_seeds = 16
    c.neuron_seeds = 1
    return c
