"""inversion_small_init_digits: class-manifold inversion for this suite's small-init ReLU
networks on digits (the sign task: inversion_small_init.py).

Command:  python -m sweeps.run --config=sweeps/configs/inversion_small_init_digits.py
Runtime:  34 s on a 2-core CPU (30 runs of 2000 steps, figures included; measured).
Result:   (measured, robust rule, medians of 10 seeds) every run inverts; t_inv / t_align_end
          = 1.70 at scale 1e-4 (155 against 92 steps), 2.64 at scale 1e-2 (116 against 44):
          the inversion follows the end of the plateau, later than on the sign task;
          eps_inv 0.142 (1e-4), 0.065 (1e-2), 0.035 (scale 1). The paper's rule fires on the
          plateau (eps_inv 0.489 = the share of the minority class) at small init.
"""

from sweeps.configs import inversion_small_init


def get_config():
    c = inversion_small_init.get_config()
    c.name = "inversion_small_init_digits"
    c.source = "digits"
    c.n_train = 1000
    return c
