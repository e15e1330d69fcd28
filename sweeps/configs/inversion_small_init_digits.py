"""inversion_small_init_digits: class-manifold inversion for this suite's small-init ReLU
networks on digits (the sign task: inversion_small_init.py).

Command:  python -m sweeps.run --config=sweeps/configs/inversion_small_init_digits.py
Runtime:  (measured below)
Result:   (measured below)
"""

from sweeps.configs import inversion_small_init


def get_config():
    c = inversion_small_init.get_config()
    c.name = "inversion_small_init_digits"
    c.source = "digits"
    c.n_train = 1000
    return c
