"""cls_tiny: a smoke test of the classifier job (train, removal, claims, results, figures).

Command:  python -m sweeps.run --config=sweeps/configs/cls_tiny.py --workdir=runs/cls_tiny
Runtime:  about 17 s on a 2-core CPU (measured 16.7 s, figures included).
Result:   digits, 400 training points, 20 tanh units, 3 inits x 2 subsets, 120 GD steps at
          lr 0.2, with the removal retrainings: every output and figure; too small for the
          claims' numbers to mean much.
"""

from alignment.classifier import config as cls_config


def get_config():
    c = cls_config.get_config()
    c.name = "cls_tiny"
    c.n_train = 400
    c.subsets = 2
    c.num_seeds = 3
    c.lr = (0.2,)
    c.steps = 120
    c.removal = True
    c.snapshots_per_call = 50
    c.overlap_points = 12
    return c
