"""straggler_removal: retrain without the stragglers against as many random points (Fig 2a, 2c).

Command:  python -m sweeps.run --config=sweeps/configs/straggler_removal.py
Runtime:  (measured below)
Result:   (measured below)
"""

from alignment import cls_config


def get_config():
    c = cls_config.get_config()
    c.name = "straggler_removal"
    c.source = "digits"
    c.n_train = 1000
    c.num_seeds = 10  # ten base runs, each retrained twice from its own init
    c.lr = (0.1, 0.2)  # Fig 2a (lr 0.1) and Fig 2c (lr 0.2, noisy test set)
    c.steps = 500
    c.removal = True
    c.noise_std = 1.0  # Gaussian pixel noise of the noisy test set (standardized pixels)
    return c
