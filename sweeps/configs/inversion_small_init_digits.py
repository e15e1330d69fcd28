"""inversion_small_init_digits: class-manifold inversion for this suite's small-init ReLU
networks on digits (the sign task: inversion_small_init.py).

Command:  python -m sweeps.run --config=sweeps/configs/inversion_small_init_digits.py
Runtime:  53 s on a 2-core CPU (30 runs of 2000 steps, figures included; measured).
Result:   (measured, robust rule, medians of 10 seeds, balanced init) every run inverts
          after the end of early alignment: lambda = 1e-2 / 1e-4 / 1e-6: t_align_end = 17 /
          66 / 112 steps, t_inv = 46 / 113 / 178 (ratio 2.76 / 1.74 / 1.59); eps_inv 0.110 /
          0.166 / 0.137. The delay grows with log 1/lambda here, unlike on the sign task; the
          paper's rule fires on the plateau (eps_inv 0.489 = the minority-class share at 1e-6).
"""

from sweeps.configs import inversion_small_init


def get_config():
    c = inversion_small_init.get_config()
    c.name = "inversion_small_init_digits"
    c.source = "digits"
    c.n_train = 1000
    return c
