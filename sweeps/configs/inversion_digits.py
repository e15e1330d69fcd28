"""inversion_digits: the inversion of class manifolds on digits (Ciceri et al. Fig 1c,d; claim i).

Command:  python -m sweeps.run --config=sweeps/configs/inversion_digits.py
Runtime:  (measured below)
Result:   (measured below)
"""

from alignment import cls_config


def get_config():
    c = cls_config.get_config()
    c.name = "inversion_digits"
    c.source = "digits"
    c.n_train = 1000  # of 1797 images; the other 797 are the test set
    c.subsets = 5  # five random training blocks
    c.num_seeds = 10  # ten inits per (optimizer, subset)
    c.m = 20
    c.activation = "tanh"
    c.head = "softmax"
    c.optimizer = ("gd", "momentum")
    c.lr = (0.1,)
    c.steps = 500
    return c
