"""inversion_small_init: class-manifold inversion for this suite's small-init ReLU networks on a
linear-teacher sign task with label noise (digits: inversion_small_init_digits.py).

Does the inversion appear, and does it coincide with the end of early alignment (the first
step at which the loss is align_drop below its plateau at theta ~ 0)?

Command:  python -m sweeps.run --config=sweeps/configs/inversion_small_init.py
Runtime:  42 s on a 2-core CPU (30 runs of 2000 steps, figures included; measured).
Result:   (measured, robust rule, medians of 10 seeds, balanced init) every run inverts, a
          fixed delay after the end of early alignment: lambda = 1e-2 / 1e-4 / 1e-6:
          t_align_end = 64 / 176 / 288 steps (linear in log 1/lambda), t_inv = 122 / 236 / 348
          (t_inv / t_align_end = 1.92 / 1.34 / 1.21, tending to 1 as lambda -> 0); eps_inv =
          0.126 at every lambda (CV across seeds 0.012-0.015, against t_inv's 0.011-0.031),
          just above the Bayes error 0.1 of the noisy labels. The mean radius falls on the
          plateau (the neurons align while the loss stays put) and its minimum after the
          plateau is shallow (figure cls_dynamics: a small dip and rise). The paper's
          rule fires on the plateau at small lambda (eps_inv 0.494 at 1e-6): read the robust one.
"""

from alignment.classifier import config as cls_config


def get_config():
    c = cls_config.get_config()
    c.name = "inversion_small_init"
    c.source = "sign"
    c.sign_d = 20
    c.sign_points = 2000  # 1000 training points, 1000 test points
    c.sign_flip = 0.1  # label noise: Bayes test error 0.1 on these (noisy) test labels
    c.n_train = 1000
    c.num_seeds = 10
    c.m = 20
    c.activation = "relu"
    c.head = "square"  # the suite's loss: (1/2n) sum (h(x) - y)^2 on +-1 labels
    c.init = "balanced"  # this suite's scheme: W, b ~ N(0, (lambda/sqrt m)^2), |v_j| = |(w_j, b_j)|
    c.scale = (1e-2, 1e-4, 1e-6)  # lambda
    c.lr = (0.1,)
    c.steps = 2000
    c.snapshot_every = 2
    return c
