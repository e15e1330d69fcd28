"""threshold_wide: the second setting of the certified-verdict check, wider and in float64.

threshold_quick's data (linear teacher in d = 5, x ~ N(0, I), sigma = 0.5, the same 10 n from 8
to 181) with a network four times wider (m = 200), a larger small init (lambda = 1e-4), float64
and 16 seeds: 160 runs. Faithful GD as in threshold_quick (step min(0.25, 1 / lambda_max) from
each run's sharpness); verdicts at t = 1e3, then runs without one continue to t = 2.5e4 and
those whose end is near to a later cap of 1e6 (threshold_quick's is 1e5: at n <= 64 the later
cap of 1e6 decides 4 of the 5 escape saddles that 1e5 leaves open, run (g) below), each run at
most 1.5e7 steps a round (round_steps: these runs sharpen to lambda_max = 50 to 140, where
threshold_quick's 6e5 steps a round cover about 1e4 units of time and left 20 of run (c)'s 29
open runs open; without a budget, run (e), a run took at most 1.3e7 steps in a round).

Command:  python -m sweeps.run --config=sweeps/configs/threshold_wide.py \
              --workdir=runs/threshold_wide --config.max_lanes=8 --config.snapshots_per_call=4
Runtime:  run (i) (this config and command, code of ae6857e, `--workers=2`, on a 2-core AMD EPYC,
          family 25 model 17) ran about 3.5 h of wall time over two sessions (its log: 12:09 to
          after 13:37, stopped with the session, then resumed from its checkpoints 13:59 to 15:57),
          with a verdict check or the test suite beside it at times. With `--config.max_lanes=8`
          each n is two chunks, so the two workers share every n; snapshots_per_call = 4 saves a
          checkpoint every tenth of a decade, so a stopped job resumes without losing a whole decade
          of a sharp run. The sharp runs at large n dominate: n <= 64 took 43 min, n = 91 one chunk
          45 min, n = 128 and 181 one chunk each more than an hour (n = 181's first chunk 7053 s
          after resuming, with 2 of its runs stepped past t = 7.9e4). In run (h) (the code before
          later_factor and the lane-order fix below; stopped) a run settling into a minimum past the
          cap stepped on to its round's budget: n = 91, seed 3 held a worker for most of an hour,
          hence later_factor. Faithful GD takes max(4, lambda_max) steps per unit of time where
          fixed-step GD took 4.
Lane order: before 7f0fcb9, a continuation round in which every lane of a chunk was live
          recorded each run's snapshots in another run's row, on one device, when the
          speed sort reordered them (tests/test_lane_order.py). Of the runs below, run (d) and
          run (e)'s n = 181 chunk had such a round (16 of 16 live at t = 1e3): their n = 181
          numbers mix runs' records and are not to be trusted. Runs (c) and (g), and run (e)
          at n = 91 and 128, had none (their logs: fewer live runs than lanes in every round).
Result:   (from the chunk files and summary.csv of each run; verdict/criterion: runs)
          Run (i), this config and command (code of ae6857e; `python -m benchmarks.config_result
          --workdir=...`): 1 of 160 runs without a verdict (0.6%). 8: interpolating 16. 11:
          interpolating 12, stuck 3 (at_minimum, certified, polished), open 1 (moving: 1.2% above
          its region minimum at t = 2.5e4, not continued). 16: interpolating 13, stuck 3. 23:
          interpolating 5, stuck 11. 32: interpolating 11, stuck 5. 45: interpolating 11, stuck 5.
          64: interpolating 8, stuck 8. 91: interpolating 12, stuck 4 (3 certified; seed 3
          at_minimum at t = 7.9e4, the third quarter-decade round past the cap, where run (h)
          without later_factor was still stepping it an hour later, when that job was stopped: its
          log). 128: interpolating 11, stuck 5 (3 at_minimum, 2 certified). 181: interpolating 14,
          stuck 2 (at_minimum); 11 of its runs were open at t = 2.5e4 and interpolated between
          2.65e4 and 9.95e4. p(n) = 1, 0.8, 0.81, 0.31, 0.69, 0.69, 0.5, 0.75, 0.69, 0.88 over the
          ten n: not monotone, and above 1/2 at every n but 23 and 64, so n* is not resolved (the
          fitted crossing lies above the largest n tested) either way of counting the open run.
          n*(T): 12.7 [11.5, 13.6] at T = 1e3, 43.5 [34.7, 56.9] at 1e4, above the range from 1e5 on
          (rising). Largest eta * lambda_max 1.46 at n <= 64, 1.65 at 91, 1.99 at 128, 2.0 at 181.
          n <= 64 trained again at 6526a68 (the escape test read at the region minimum too;
          `--chunks=0,...,13` in two processes, Intel Xeon family 6 model 207;
          `python -m benchmarks.config_result --workdir=...`): the same verdicts per n as run
          (i), and n = 64 seed 10 certified stuck at t = 1.4e5 again: a false stuck, which the
          flow leaves; its certificates miss a descent across the kinks of small groups that
          vanish at its region minimum (BENCHMARKS.md, "Stuck runs judged late").
          Run (e), n = 91 to 181 as configured (`--config.n="(91,128,181)"
          --config.max_lanes=16 --workers=2`, code of bc92b7b: interp_time from the last quarter
          decade, before settle_time): 91: interpolating 12, stuck 3 (certified), open 1
          (moving: loss 6.3e-4 at t = 2.5e4, 4% above a region minimum certified a local
          minimum, which settle_time now reaches at 3.9e4, so the code of this file continues
          it). 128: interpolating 11, stuck 4 (2 certified, 2 at_minimum), open 1 (moving:
          7.4e-5 at t = 1e5 against a region minimum 4.4e-5, polish_dist 1.7e3). 181:
          interpolating 12, stuck 2 (at_minimum), open 2 (on_its_way: loss 1.6e-5 at t = 1e5,
          interp_time 1.4e5; escaping: not continued past 2.5e4, escape predicted at 1.2e5).
          Largest eta * lambda_max 1.65 at n = 91, 1.99 at 128, 2.0 at 181 (its n = 181 numbers
          mix runs' records: "Lane order" above). Over n = 91 to 181 p(n) > 1/2 at every n: n*
          lies above 181 there. How well the forecasts of run (i)'s open runs held: BENCHMARKS.md,
          "Forecasting interpolation and settling".
          n = 8 to 64: run (c) (below; the budget stopped none of these runs) left 7 of 112 open:
          2 at n = 11 (escaping, moving) and 5 escape saddles at n = 23 to 64, each within the gap
          of a region minimum where no neuron grows (polish_kappa below 2e-11) while a small
          neuron grows now (kappa 1.4e-5 to 1.7e-4, escapes predicted at 2.2e4 to 2.6e5), their
          records ending at the later cap 1e5. With a later cap of 1e6 (run (g):
          `--config.n="(8,11,16,23,32,45,64)" --config.escape_cap=1e6 --workers=1`, code of
          8fce393) 2 stay open: 8: interpolating 16. 11: interpolating 12, stuck 3, open 1
          (moving). 16: interpolating 13, stuck 3. 23: interpolating 5, stuck 11. 32:
          interpolating 11, stuck 4, saddle 1 (escape). 45: interpolating 11, stuck 5. 64:
          interpolating 9, stuck 7 (n = 64 seed 10 interpolated with eta * lambda_max 2.08 at
          one snapshot, `faithful` 0). The later cap costs little at these n (steps of 0.17 to
          0.25); at n >= 91, where runs step 0.005 to 0.02, it would need a step budget again.
          Open runs: 11 of 160 (6.9%) with runs (c) and (e) (escape_cap 1e5), 6 (3.8%) with
          run (g) for n <= 64.
          Run (c) (code of 43681d4, lane blocks of at most 8, `--config.max_lanes=40
          --workers=2`, about 1 h; the step budget of 6e5) left 29 of 160 open (18%), 20 at
          their budget: 128: interpolating 4, stuck 4, open 8; 181: interpolating 1, stuck 2,
          open 13; n* = 159.5, 95% CI [61.1, above 181], the interval covering both readings of
          the open runs open. Run (d) (code of 0433b3d, no budget, the decade forecast): n = 181
          ended with 7 interpolating, 2 stuck and 7 open in 57 min. Runs (a) and (b), before the
          lane-block cap, did not finish (45 to 76 min a round).
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
    # a step budget 25x threshold_quick's: these runs sharpen to lambda_max = 50 to 140, so its
    # 6e5 steps a round cover only about 1e4 units of time (run (c): 20 of its 29 open runs
    # stopped there); run (e) without a budget took at most 1.3e7 steps in a round (n = 181,
    # seed 3, interpolating at t = 1e5), and a run held to the later cap of 1e6 would take 2e8
    c.round_steps = 1.5e7
    # n <= 64: a later cap of 1e6 decides 4 of the 5 escape saddles that 1e5 left open (run (g))
    c.escape_cap = 1e6
    # past 2.5e4, four rounds a decade: a run settling into a minimum there is judged (and
    # leaves its lane block) within a quarter decade instead of stepping to its round's end or
    # budget (run (h): one such run held a worker for most of an hour); a run still open takes
    # at most round_steps a round, so about 1.5e5 units of time past the cap at lambda_max = 140
    c.later_factor = 10**0.25
    return c
