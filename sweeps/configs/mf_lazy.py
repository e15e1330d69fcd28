"""mf_lazy: the lazy init a_i(0) = gamma0 sqrt(m): m C_o -> -1 on the t m clock (pure noise).

Montanari & Urbani (NeurIPS 2025), lazy initialization: gamma0 in {0.25, 0.5, 1, 2}, pure
noise and single index, Hermite cubic, alpha = 0.4, tau = 0.6, d = 50, m = 16 ... 64, 4 seeds,
flow to t = 2 m (t m up to 2 m^2: the lazy dynamics run on the t m clock; longer runs at
gamma0 = 2 cost ~ m gamma0^2 steps per unit time).

Command:  python -m sweeps.run --config=sweeps/configs/mf_lazy.py --workdir=runs/mf_lazy
Runtime:  4.6 min on 2 CPU cores (measured, float32, with the figures): 96 runs; flow steps
          median 560, max 7399 (gamma0 = 2).
Result:   (measured, pure noise, medians over 4 seeds, m = 16/32/64) (v) final m C_o =
          -0.57/-0.77/-0.90 (gamma0 0.25), -0.80/-0.89/-0.96 (0.5), -0.95/-0.97/-0.98 (1),
          -1.02/-1.01/-1.00 (2): within 0.25 of -1 except gamma0 = 0.25 at m = 16 (the rule
          then says "does not hold"), approaching -1 as m and gamma0 grow.
"""

from alignment.mean_field import config as mf_config


def get_config():
    c = mf_config.get_config()
    c.name = "mf_lazy"
    c.d = 50
    c.alpha = 0.4
    c.m = (16, 32, 64)
    c.activation = "hermite3"
    c.target = ("pure_noise", "single_index")
    c.tau = (0.6,)
    c.a0 = ()
    c.lazy_gamma0 = (0.25, 0.5, 1.0, 2.0)
    c.num_seeds = 4
    c.t_max = 2.0
    c.num_snapshots = 80
    return c
