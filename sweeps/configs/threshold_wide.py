"""threshold_wide: the second setting of the certified-verdict check, wider and in float64.

threshold_quick's data (linear teacher in d = 5, x ~ N(0, I), sigma = 0.5, the same 10 n from 8
to 181) with a network four times wider (m = 200), a larger small init (lambda = 1e-4), float64
and 16 seeds: 160 runs. Faithful GD as in threshold_quick (step min(0.25, 1 / lambda_max) from
each run's sharpness); verdicts at t = 1e3, then runs without one continue to t = 2.5e4 and
those whose end is near to 1e5, at most 6e5 steps a round (all inherited from threshold_quick;
the step budget came after run (a) below).

Command:  python -m sweeps.run --config=sweeps/configs/threshold_wide.py \\
              --workdir=runs/threshold_wide
Runtime:  about 1 h on a 2-core CPU with `--config.max_lanes=40` (4 chunks of 40 runs, one per
          worker). Run (c), AMD EPYC (family 25 model 17), code of 43681d4 (lane blocks of at
          most 8): chunk 2 (n = 45 to 91) took 27 min (rounds to t = 1e4, 2.5e4, 1e5: 7.5, 14
          and 5 min), chunk 3 (n = 128, 181) 61 min (23, 29 and 7 min); chunks 0 and 1 (n = 8
          to 32) were kept from run (b), 40 s and 82 s. Before the lane-block cap (runs (a) and
          (b), code of dc69768 and 821ce10) all 40 lanes of a chunk shared one block and the
          same rounds took 45 to 76 min each; neither run finished. Faithful GD takes
          max(4, lambda_max) steps per unit of time where fixed-step GD took 4.
Result:   (run (c), from summary.csv and threshold.json) 29 of 160 runs without a verdict
          (18%), 20 of them stopped at their step budget (round_steps = 6e5, set for
          threshold_quick's m = 50; these runs sharpen to lambda_max = 50 to 120, so a round's
          budget covers only about 1e4 units of time). Per n (verdict/criterion: runs):
          8: interpolating 16. 11: interpolating 12, stuck 2, open 2 (escaping, moving).
          16: interpolating 13, stuck 3. 23: interpolating 5, stuck 10, saddle 1 (escape).
          32: interpolating 11, stuck 4, saddle 1. 45: interpolating 11, stuck 4, saddle 1.
          64: interpolating 8, stuck 6, saddle 2. 91: interpolating 12, stuck 3, open 1
          (moving, at its budget). 128: interpolating 4, stuck 4, open 8 (5 on_its_way, 3
          moving, all at their budget). 181: interpolating 1, stuck 2, open 13 (9 moving, 2
          on_its_way, 2 escaping; 11 at their budget). Largest eta * lambda_max 1.25 up to
          n = 45, 1.46 at 64, 1.65 at 91, 1.99 and 2.0 at 128 and 181. Most open runs at
          n >= 128 have a train loss far below their OLS loss (1.3e-5 to 2.1e-2 against 0.10 to
          0.14) and still falling: they are fitting, not stuck. n* = 159.5, 95% CI [61.1, above
          181]; with the open runs counted stuck 57.9 [41.6, 109]; counted interpolating, the
          crossing lies above n = 181; so the interval covering both readings is open. p(n) is
          not monotone: it dips to 1/3 at n = 23 (threshold_quick's n* region) and is 0.8 at
          n = 91.
          Without the step budget (run (d): `--config.n="(128,181)" --config.round_steps=0
          --config.max_lanes=16 --workers=2`, code of 0433b3d, lane blocks of at most 4):
          n = 181 ended with 7 interpolating, 2 stuck and 7 open (6 moving, 1 escaping), against
          run (c)'s 1, 2 and 13; its 16 runs took 57 min on one worker. n = 128 had not finished
          when the session that ran it ended (its last round, from t = 2.5e4, ran over 50 min).
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
    # no step budget: these runs sharpen to lambda_max = 50 to 140, so threshold_quick's 6e5
    # steps a round cover only about 1e4 units of time (run (c): 20 of its 29 open runs
    # stopped there; run (d) without it: n = 181 from 13 open to 7)
    c.round_steps = 0.0
    return c
