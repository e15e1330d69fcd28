"""inversion_small_init: class-manifold inversion for this suite's small-init ReLU networks on a
linear-teacher sign task with label noise (digits: inversion_small_init_digits.py).

Does the inversion appear, and does it coincide with the end of early alignment (the first
step at which the loss is align_drop below its plateau at theta ~ 0)?

Command:  python -m sweeps.run --config=sweeps/configs/inversion_small_init.py
Runtime:  (measured below)
Result:   (measured below)
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
    c.scale = (1.0, 1e-2, 1e-4)  # PyTorch's init (reference) and two small inits
    c.lr = (0.1,)
    c.steps = 2000
    c.snapshot_every = 2
    return c
