"""mf_single_index: feature learning, then overfitting and feature unlearning at t ~ m.

Montanari & Urbani (NeurIPS 2025) Fig 4 and Figs 24-31: single-index teacher, Hermite cubic,
alpha = 0.3, tau = 0.3 and 0.6, mean-field init a0 = 1, with the frozen-a control over a gamma
grid (claim iii); d = 50 here (the paper: d = 200), m = 16 ... 128, 4 seeds, flow to t = 20 m.

Command:  python -m sweeps.run --config=sweeps/configs/mf_single_index.py --workdir=runs/mf_si
Runtime:  MEASURED_RUNTIME
Result:   MEASURED_RESULT
"""

from alignment import mf_config


def get_config():
    c = mf_config.get_config()
    c.name = "mf_single_index"
    c.d = 50
    c.alpha = 0.3
    c.m = (16, 32, 64, 128)
    c.activation = "hermite3"
    c.target = ("single_index",)
    c.tau = (0.3, 0.6)
    c.a0 = (1.0,)
    c.frozen_gamma = (0.2, 0.3, 0.4, 0.5, 0.6)
    c.frozen_seeds = 1
    c.num_seeds = 4
    c.t_max = 20.0
    c.num_snapshots = 80
    return c
