"""mf_single_index: feature learning, then overfitting and feature unlearning at t ~ m.

Montanari & Urbani (NeurIPS 2025) Fig 4 and Figs 24-31: single-index teacher, Hermite cubic,
alpha = 0.3, tau = 0.3 and 0.6, mean-field init a0 = 1, with the frozen-a control over a gamma
grid (claim iii); d = 50 here (the paper: d = 200), m = 16 ... 128, 4 seeds, flow to t = 20 m.

Command:  python -m sweeps.run --config=sweeps/configs/mf_single_index.py --workdir=runs/mf_si
Runtime:  15.0 min on 2 CPU cores (measured, float32, with the figures; part of it beside a test
          run): 72 runs, m = 128 takes 13.5 of the 15 min (340 s trained, 465 s frozen-a); flow
          steps median 2134, max 23031 (frozen gamma = 0.6 at m = 128).
Result:   (measured, medians over 4 seeds, m = 16/32/64/128)
          (i) test within 5% of its minimum at t = 11.6/10.9/12.3/15.5 (tau 0.3; slope 0.14 on
          m: holds), minimum 0.145/0.089/0.069/0.056 against Bayes 0.045; tau 0.6: 0.327 ...
          0.201 against 0.18. (ii) t_c/m = 2.95/3.62/4.06/4.71 (tau 0.3, slope of t_c on m
          1.22) and 2.95/3.03/3.19/3.63 (tau 0.6, slope 1.10): holds; peak v 0.56 ... 0.75,
          final v 0.397/0.326/0.281/0.235, final v sqrt(m) gamma 0.67/0.77/0.92/1.09.
          (iii) gamma_GF* = 0.374/0.381/0.380/0.407 (tau 0.3), final gamma / gamma* = 1.16/
          1.09/1.08/1.00: holds; tau 0.6: 1.24/1.12 at m = 16/32, gamma* above the grid's 0.6
          at m = 64, 128. (vi) slope of max|a| on t 0.14 ... 0.24: holds.
"""

from alignment.mean_field import config as mf_config


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
