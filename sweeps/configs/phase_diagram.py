"""phase_diagram: interpolation probability over n x lambda and n x eta.

Two sub-sweeps around the threshold_quick setting (linear teacher, d = 5, sigma = 0.5, m = 50):
  lam   n x lambda in {1e-6, 1e-4, 1e-2, 1e-1} at eta = 0.25;
  lr    n x eta in {0.1, 0.25, 0.5} at lambda = 1e-6.
n in {8, 16, 32, 64, 128}, 6 seeds. Time cap 1e4 (1e5 steps at eta = 0.1).

Command:  python -m sweeps.run --config=sweeps/configs/phase_diagram.py --workdir=runs/phase_diagram
Runtime:  1 min 51 s on a 2-core CPU (measured, figures included: 210 runs in 8 chunks); on one
          GPU well under a minute (estimate).
Result:   (measured, certified verdicts) 83 interpolating, 30 stuck, 9 saddles, 88 undetermined
          of 210 runs. n* (95% CI) by lambda at eta = 0.25: 1e-6: 32 [16, 64]; 1e-4: 22.6
          [16, 32]; 1e-2 and 1e-1: not resolved (p(n) >= 0.83 among the decided runs at n <= 32,
          every run at n >= 64 undetermined, so n* > 32). By eta at lambda = 1e-6: 0.1: 45.3
          [32, 64]; 0.25: 32 [16, 64]; 0.5: 20.3 [13.9, 45.3]: a larger step interpolates less.
          Counted both ways, the runs without a verdict leave every interval open (eta = 0.1:
          [16, open]): the undetermined runs, not the seeds, limit these numbers.
"""

import ml_collections

from sweeps.configs import threshold_quick


def get_config():
    c = threshold_quick.get_config()
    c.name = "phase_diagram"
    c.n = (8, 16, 32, 64, 128)
    c.num_seeds = 6
    c.max_time = 1e3
    c.time_cap = 1e4
    c.neuron_seeds = 0  # no per-neuron arrays: this job is about verdicts
    c.sweeps = ml_collections.ConfigDict()
    c.sweeps.lam = ml_collections.ConfigDict({"lam": (1e-6, 1e-4, 1e-2, 1e-1), "lr": (0.25,)})
    c.sweeps.lr = ml_collections.ConfigDict({"lam": (1e-6,), "lr": (0.1, 0.25, 0.5)})
    return c
