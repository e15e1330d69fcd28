"""threshold_paper: the published optimization-threshold protocol, as far as it is known.

Boursier & Flammarion (ICML 2025): linear teacher in d = 5 with inputs uniform in the unit ball,
label noise sigma, a fixed wide two-layer ReLU network from a small initialization, gradient
descent, n from 10 to 1e4. Values the paper's text available to us does not pin down are
chosen here and marked (*): sigma = 0.75 (*, puts n* mid-range for ball inputs, whose signal
variance is 1/(d+2)), m = 1000, lambda = 1e-6 (*), eta = 1 (*: inputs in the ball make the loss
about (d+2) times flatter than for Gaussian inputs). 13 log-spaced n (10 * 10^(k/4)), 10 seeds:
130 runs; verdicts at t = 1e4, continued to 1e5 (1e5 steps).

Command:  python -m sweeps.run --config=sweeps/configs/threshold_paper.py \\
              --workdir=runs/threshold_paper
Runtime:  too long for a 2-core CPU. XLA's FLOP count (`python -m benchmarks.flop_budget`)
          gives 73.2 TFLOP if every run had a verdict at t = 1e4 and 732 TFLOP if every run
          went to the cap: at least 0.49 h and 4.9 h at the rate the trainer sustains on W1
          here (a lower bound: overheads not counted; per-step times measured at an earlier
          stop gave 4.3 h and 43 h). The n = 1e4 chunk alone took 1.2 s per step (20 runs x
          1e4 samples x 1000 neurons).
On a GPU: float32, all runs of an n bucket in one call (max_lanes = 64 gives 7 chunks; the
          preactivations take m x n_pad x 4 bytes a lane, 40 MB at n = 1e4), e.g.
              python -m sweeps.run --config=sweeps/configs/threshold_paper.py \
                  --workdir=runs/threshold_paper --config.max_lanes=64
          The same FLOP count at an assumed 13.4 TFLOP/s (20% of an H200's float32 peak) and
          50 us per loop step gives 0.091-0.91 min (an estimate from measured FLOPs and an
          assumed rate, not a measurement). Split it over a cluster with sweeps.launch
          (README, "Running at scale").
Result:   measured only on a reduced grid here, at both widths: n in (10, ..., 562) (the first
          8 values), m = 200 and m = 1000, 4 seeds, time cap 3e4 (5 min 15 s for the 64 runs,
          figures included; chunks of 4-8 runs took 11.5-23.6 s at m = 200 and 13.1-87.9 s at
          m = 1000; 2-core AMD EPYC):
              python -m sweeps.run --config=sweeps/configs/threshold_paper.py \
                  --config.n="(10,18,32,56,100,178,316,562)" --config.m="(200,1000)" \
                  --config.num_seeds=4 --config.time_cap=3e4
          m = 200: 7 interpolating (n <= 32), 1 stuck, 3 saddles, 21 undetermined of 32;
          m = 1000: 7 interpolating, 5 saddles, 20 undetermined. The undetermined runs are GD at
          the edge of stability (eta * lambda_max median 2.00 at both widths). n*(T) at
          T = 3e4 (every run has an outcome): 18 [10, 32] at both widths, so the width does not
          move it on this grid; the certified n* is 56.6 [18, open] at m = 200 and not resolved
          at m = 1000. A smaller eta (or the flow) is needed for verdicts, at 1/eta the steps.
"""

from sweeps.configs import base


def get_config():
    c = base.get_config()
    c.name = "threshold_paper"
    c.data = "linear"
    c.d = (5,)
    c.x_dist = "ball"
    c.sigma = (0.75,)
    c.n = (10, 18, 32, 56, 100, 178, 316, 562, 1000, 1778, 3162, 5623, 10000)
    c.num_seeds = 10
    c.n_test = 1000
    c.m = (1000,)
    c.lam = (1e-6,)
    c.lr = (1.0,)
    c.max_time = 1e4
    c.t_min = 1.0
    c.num_snapshots = 161
    c.snapshots_per_decade = 40
    c.time_cap = 1e5
    c.store_neurons_max = 1000
    c.neuron_seeds = 1
    c.max_lanes = 64
    c.bucket_waste = 0.5
    return c
