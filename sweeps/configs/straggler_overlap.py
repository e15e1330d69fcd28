"""straggler_overlap: how stable the misclassified sets of seed pairs are (Fig 2d; claim iv).

Command:  python -m sweeps.run --config=sweeps/configs/straggler_overlap.py
Runtime:  17 s on a 2-core CPU (20 runs of 500 steps, figures included; measured).
Result:   (measured) eps_inv = 0.0555 +- 0.0033 (CV 0.059), t_inv 89 steps (CV 0.102); the
          median overlap z-score of the 190 seed pairs peaks at step 104, training error
          0.0505 = 0.91 x eps_inv (claim iv holds); Jaccard peaks there too (0.85).
"""

from alignment.classifier import config as cls_config


def get_config():
    c = cls_config.get_config()
    c.name = "straggler_overlap"
    c.source = "digits"
    c.n_train = 1000
    c.num_seeds = 20  # 190 seed pairs
    c.lr = (0.2,)
    c.steps = 500
    c.overlap_points = 40
    return c
