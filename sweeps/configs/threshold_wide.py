"""threshold_wide: the second setting of the certified-verdict check, wider and in float64.

threshold_quick's data (linear teacher in d = 5, x ~ N(0, I), sigma = 0.5, the same 10 n from 8
to 181) with a network four times wider (m = 200), a larger small init (lambda = 1e-4), float64
and 16 seeds: 160 runs. Faithful GD as in threshold_quick (step min(0.25, 1 / lambda_max) from
each run's sharpness); verdicts at t = 1e3, then runs without one continue to t = 2.5e4 and
those whose end is near to 1e5, at most 6e5 steps a round (all inherited from threshold_quick;
the step budget came after run (a) below).

Command:  python -m sweeps.run --config=sweeps/configs/threshold_wide.py \\
              --workdir=runs/threshold_wide
Runtime:  not finished on a 2-core CPU (measured twice, stopped before the end). (a) Intel
          Xeon (family 6 model 167), code of dc69768: n >= 45 in one chunk of 80 runs,
          69 of them open at t = 1e3; its round from t = 1e3 to 1e4 took 53 min. (b) AMD EPYC
          (family 25 model 17), code of 821ce10, `--config.max_lanes=40 --workers=2`, beside
          other jobs: 4 chunks of 40 runs; chunks 0 and 1 (n = 8 to 32) finished in 40 s and
          82 s; chunks 2 and 3 (n = 45 to 181) took 45 and 55 min from t = 1e3 to 1e4 (9 and 27
          runs left open); chunk 2's round from 1e4 to 2.5e4 took 76 min (5 left open), chunk
          3's had not returned after 76 min. At
          n_pad = 184 a lane (m = 200, float64) is too large for L2 and lanes are blocked by the
          last-level cache, 56 at a time on that machine, so all 40 lanes of a chunk step
          together and a round with 9 open runs computes 40 (idle lanes take no step but share
          the block's while loop); `sharding.MAX_BLOCK` now caps such blocks at 8
          (BENCHMARKS.md, "Idle lanes"; not rerun with the cap). Faithful GD takes
          max(4, lambda_max) steps per unit of time where fixed-step GD took 4.
Result:   (measured, from the chunk files and logs) n = 8 to 32 (chunks 0 and 1 of run (b),
          80 runs; the same verdicts as run (a)'s chunk 0): 4 without a verdict. Per n:
          8: 16 interpolating; 11: 12 interpolating, 2 stuck, 2 undetermined (escaping,
          moving); 16: 13 interpolating, 3 stuck; 23: 5 interpolating, 10 stuck, 1 saddle
          (escape); 32: 11 interpolating, 4 stuck, 1 saddle (escape). Largest eta*lambda_max
          1.25. n = 45 to 181: 69 of 80 open at t = 1e3 and 36 of 80 at 1e4 in both runs; per
          n at 1e4 (run (a)): 45: 11 interpolating, 3 stuck, 2 saddles; 64: 8 interpolating, 5
          stuck, 3 saddles; 91: 8 interpolating, 2 stuck, 1 saddle, 5 undetermined (4 on their
          way to interpolation); 128: 1 interpolating, 4 stuck, 1 saddle, 10 undetermined;
          181: 2 stuck, 4 saddles, 10 undetermined. Many runs at n = 45 to 91 interpolate only
          after t = 1e3: at T = 1e4 the share that interpolates crosses 1/2 between n = 64 and
          128, far above threshold_quick's n*, and it was still rising. No n* is given for a
          job that did not finish.
          Before faithful GD (fixed step 0.25, `--config.gd_step_sharpness=0`; measured on a
          2-core AMD EPYC, 13 min 47 s) the job left 83 of 160 runs without a verdict, 57 of
          them GD at the edge of stability (last eta * lambda_max in [1.97, 2.12]), and the
          interval covering both readings of them was open on both sides.
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
