"""threshold_wide: the second setting of the certified-verdict check, wider and in float64.

threshold_quick's data (linear teacher in d = 5, x ~ N(0, I), sigma = 0.5, the same 10 n from 8
to 181) with a network four times wider (m = 200), a larger small init (lambda = 1e-4), float64
and 16 seeds: 160 runs. Faithful GD as in threshold_quick (step min(0.25, 1 / lambda_max) from
each run's sharpness); verdicts at t = 1e3, then runs without one continue to t = 2.5e4 and
those whose end is near to 1e5, at most 6e5 steps a round (all inherited from threshold_quick;
the step budget came after the measurements below).

Command:  python -m sweeps.run --config=sweeps/configs/threshold_wide.py \\
              --workdir=runs/threshold_wide
Runtime:  (measured, 2-core Intel Xeon (family 6, model 167), this config as it is, stopped
          before the end) the pass to t = 1e3 of both chunks took under 3 min; chunk 0
          (n <= 32) then finished, but chunk 1 (n >= 45) left 69 of its 80 runs open at t = 1e3
          and its first continuation call (those runs from t = 1e3 to 1e4, in one worker
          process) had not returned after 28 min, so the whole job was not timed. Faithful GD
          takes max(4, lambda_max) steps per unit of time where fixed-step GD took 4, and the
          slowest lane of each lane block sets the block's time.
Result:   (measured, same run, from its chunk files) chunk 0 (n = 8 .. 32, 80 runs): 57
          interpolating, 16 stuck (9 at_minimum, 5 certified, 2 polished), 3 saddles (escape),
          4 undetermined (2 moving, 2 escaping): 7 of 80 without a verdict. Chunk 1 at t = 1e3:
          11 stuck, 14 saddles, 55 undetermined (42 of them escaping). Continued (code of
          dc69768, chunk 1 alone in one worker beside other jobs), its 69 open runs took 53 min
          from t = 1e3 to 1e4 (single-lane blocks at m = 200 in float64); at t = 1e4, per n:
          45: 11 interpolating, 3 stuck, 2 saddles; 64: 8 interpolating, 5 stuck, 3 saddles;
          91: 8 interpolating, 2 stuck, 1 saddle, 5 undetermined (4 on their way to
          interpolation); 128: 1 interpolating, 4 stuck, 1 saddle, 10 undetermined; 181: 2
          stuck, 4 saddles, 10 undetermined: 36 of 80 open.
          Many runs at n = 45 to 91 interpolate only after t = 1e3: at T = 1e4 the share that
          interpolates crosses 1/2 between n = 64 and 128, far above threshold_quick's n*, and
          it was still rising. No n* is given for a job that did not finish.
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
