"""threshold_quick: the default main job (a small optimization-threshold sweep).

Command:  python -m sweeps.run   (same as --config=sweeps/configs/threshold_quick.py)
Runtime:  TBD on a 2-core CPU.
Result:   TBD.
"""

from sweeps.configs import base


def get_config():
    c = base.get_config()
    c.name = "threshold_quick"
    c.d = (5,)
    c.n = (8, 16, 32, 64, 128, 256, 512, 1024)
    c.num_seeds = 8
    return c
