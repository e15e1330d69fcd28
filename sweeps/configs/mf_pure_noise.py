"""mf_pure_noise: pure-noise labels, mean-field init: the train error stays at tau^2/2 until t ~ m.

Montanari & Urbani (NeurIPS 2025) Fig 2: y = tau eps, Hermite cubic, alpha = 0.4, tau = 0.6,
a0 = 1, with the frozen-a control (claim iii); d = 50 here (the paper: d = 200, SGD),
m = 16 ... 128, 4 seeds, flow to t = 20 m.

Command:  python -m sweeps.run --config=sweeps/configs/mf_pure_noise.py --workdir=runs/mf_pn
Runtime:  MEASURED_RUNTIME
Result:   MEASURED_RESULT
"""

from alignment import mf_config


def get_config():
    c = mf_config.get_config()
    c.name = "mf_pure_noise"
    c.d = 50
    c.alpha = 0.4
    c.m = (16, 32, 64, 128)
    c.activation = "hermite3"
    c.target = ("pure_noise",)
    c.tau = (0.6,)
    c.a0 = (1.0,)
    c.frozen_gamma = (0.2, 0.3, 0.4, 0.5, 0.6)
    c.frozen_seeds = 1
    c.num_seeds = 4
    c.t_max = 20.0
    c.num_snapshots = 80
    return c
