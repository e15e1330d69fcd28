"""tiny: a smoke test of the whole pipeline (train, verdicts, n*, results, figures).

Command:  python -m sweeps.run --config=sweeps/configs/tiny.py --workdir=runs/tiny
Runtime:  (measured on a 2-core AMD EPYC, family 25 model 17, with a threshold_wide job on
          both cores at a lower priority) 16 s with the compilation cache off, figures
          included (`python -m benchmarks.config_result --config=tiny`); cold and warm against
          the revision before: `python -m benchmarks.cold_start` (BENCHMARKS.md, "A new
          process"). One compiled program, mostly compilation.
Result:   (measured, `python -m benchmarks.config_result --config=tiny`, same machine) 12 runs
          (d = 3, m = 16, n in {4, 16, 64}, 4 seeds): summary.csv, threshold.json,
          trajectories.nc, chunks/ and figures/. n = 4: 4 interpolating; n = 16: 1
          interpolating, 3 stuck (2 at_minimum, 1 certified); n = 64: 2 stuck (1 at_minimum,
          1 certified), 1 saddle (kink: within the gap of its region minimum, from which a
          move across a kink descends), 1 undetermined (not_stationary: at its region
          minimum, still moving); n* = 16, 95% CI [4, 64] (separable: the interval covers the
          tested n on either side of the mixed one); the 2 open runs counted as interpolating
          give 26.3 [8, above the range], as not 16 [4, 64]. n*(T): 8 [4, 16] at T = 1e3,
          16 [4, 64] at 1e4 (settled).
          Largest eta * lambda_max 1.26 (faithful GD). Too few seeds for a sharp n*: it checks
          the pipeline, not the science. float32 verdicts can differ by machine (XLA's
          vectorization rounds differently); rerun the script to refresh these lines.
"""

from sweeps.configs import base


def get_config():
    c = base.get_config()
    c.name = "tiny"
    c.d = (3,)
    c.n = (4, 16, 64)
    c.num_seeds = 4
    c.m = (16,)
    c.lam = (1e-2,)
    c.lr = (0.2,)
    c.sigma = (0.3,)
    c.n_test = 200
    c.max_time = 1e3
    c.t_min = 1.0
    c.num_snapshots = 40
    c.time_cap = 1e4
    c.snapshots_per_decade = 10
    c.n_boot = 200
    c.bucket_waste = 100.0  # one bucket: a single compiled program
    return c
