"""straggler_overlap: how stable the misclassified sets of seed pairs are (Fig 2d; claim iv).

Command:  python -m sweeps.run --config=sweeps/configs/straggler_overlap.py
Runtime:  (measured below)
Result:   (measured below)
"""

from alignment import cls_config


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
