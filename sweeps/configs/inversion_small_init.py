"""inversion_small_init: class-manifold inversion for this suite's small-init ReLU networks on a
linear-teacher sign task with label noise (digits: inversion_small_init_digits.py).

Does the inversion appear, and does it coincide with the end of early alignment (the first
step at which the loss is align_drop below its plateau at theta ~ 0)?

Command:  python -m sweeps.run --config=sweeps/configs/inversion_small_init.py
Runtime:  23 s on a 2-core CPU (30 runs of 2000 steps, figures included; measured).
Result:   (measured, robust rule, medians of 10 seeds) every small-init run inverts, right
          after the end of early alignment: scale 1e-2: t_inv 172 against t_align_end 113
          steps (ratio 1.53); scale 1e-4: 285 against 225 (1.27): both move with log(1/scale)
          together. eps_inv 0.127-0.128 (CV 0.02), close to the Bayes error 0.1 of the noisy
          labels. The mean radius falls during the plateau (the neurons align, the loss does
          not move), then rises after the plateau. PyTorch's init (scale 1): 4 of 10 invert,
          late (t_inv ~ 950). The paper's rule fires on the plateau at small init (eps_inv
          0.46 at scale 1e-4): use the robust rule there.
"""

from alignment import cls_config


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
