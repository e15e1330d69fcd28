"""inversion_digits: the inversion of class manifolds on digits (Ciceri et al. Fig 1c,d; claim i).

Command:  python -m sweeps.run --config=sweeps/configs/inversion_digits.py
Runtime:  55 s on a 2-core CPU (100 runs of 500 steps, figures included; measured).
Result:   (measured; paper rule) GD: eps_inv = 0.0543 +- 0.0032 over 10 inits (CV 0.059)
          against t_inv = 184 +- 20 steps (CV 0.107); momentum 0.9: eps_inv 0.0637 +- 0.0033
          (CV 0.052), t_inv 28.4 (CV 0.071). Across optimizers eps_inv's CV is 0.013, t_inv's
          0.99. Across the 5 subsets' means eps_inv varies more (CV 0.097) than t_inv (0.082):
          claim (i) holds across inits and optimizers, not across subsamples. The overlap
          z-score peaks at 0.90-1.31 x eps_inv (claim iv holds).
"""

from alignment.classifier import config as cls_config


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
