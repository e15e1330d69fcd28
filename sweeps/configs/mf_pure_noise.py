"""mf_pure_noise: pure-noise labels, mean-field init: the train error stays at tau^2/2 until t ~ m.

Montanari & Urbani (NeurIPS 2025) Fig 2: y = tau eps, Hermite cubic, alpha = 0.4, tau = 0.6,
a0 = 1, with the frozen-a control (claim iii); d = 50 here (the paper: d = 200, SGD),
m = 16 ... 128, 4 seeds, flow to t = 20 m.

Command:  python -m sweeps.run --config=sweeps/configs/mf_pure_noise.py --workdir=runs/mf_pn
Runtime:  9.6 min on 2 CPU cores (measured, float32, with the figures): 36 runs, m = 128
          takes 7.9 of them; flow steps median 2626, max 32919.
Result:   (measured, medians over 4 seeds, m = 16/32/64/128) (iv) the train error leaves
          0.9 tau^2/2 at t_p = 1.7/1.8/4.3/11.7 (slope 0.96 on m: holds), t_p/m = 0.11/0.06/
          0.07/0.09; (ii) gamma's rise at t_c/m = 4.47/3.98/3.78/3.70 (slope 0.91: holds);
          test 0.198 ... 0.182 against tau^2/2 = 0.18 at its minimum (t = 0: nothing to learn),
          rising by 0.05-0.06; (iii) gamma* above the grid's 0.6 at every m (final gamma
          0.67/0.69/0.74/0.77): not decided; (vi) holds (slopes 0.22 ... 0.33).
"""

from alignment.mean_field import config as mf_config


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
