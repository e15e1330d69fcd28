"""mf_relu: the single-index experiment with the centered ReLU sigma(z) = relu(z) - 1/sqrt(2 pi).

As mf_single_index (alpha = 0.3, tau = 0.3, a0 = 1, d = 50, flow to t = 20 m) with the
centered ReLU for student and teacher, m = 16 ... 64, 4 seeds, and the frozen-a control.

Command:  python -m sweeps.run --config=sweeps/configs/mf_relu.py --workdir=runs/mf_relu
Runtime:  39 s on 2 CPU cores (measured, float32, with the figures): 27 runs; flow steps median
          449, max 1950.
Result:   (measured, medians over 4 seeds, m = 16/32/64) (i) test within 5% of its minimum at
          t = 31/26/25 (holds), minimum 0.070/0.057/0.052 against Bayes 0.045; (ii) t_c/m =
          4.9/6.0/6.4 (slope 1.19: holds), final v sqrt(m) gamma 0.92/1.08/1.19; (iii) gamma*
          above the grid's 0.6 (final gamma 0.56/0.50/0.44): not decided; (vi) holds.
"""

from alignment.mean_field import config as mf_config


def get_config():
    c = mf_config.get_config()
    c.name = "mf_relu"
    c.d = 50
    c.alpha = 0.3
    c.m = (16, 32, 64)
    c.activation = "relu_centered"
    c.target = ("single_index",)
    c.tau = (0.3,)
    c.a0 = (1.0,)
    c.frozen_gamma = (0.2, 0.3, 0.4, 0.5, 0.6)
    c.frozen_seeds = 1
    c.num_seeds = 4
    c.t_max = 20.0
    c.num_snapshots = 80
    return c
