"""Every field of a mean-field job config (family ``mean_field``, DESIGN.md section 3).

The job trains, for each width m and target, one program whose lanes are every (init, tau,
seed): the mean-field init (all ``a_i(0) = a0``), the lazy init (``a_i(0) = gamma0 sqrt(m)``)
and the frozen-a control (``a = gamma sqrt(m)`` fixed, W trained), on the paper's clock to
``t_max * m``. Tuples are swept; an empty init tuple means none of that kind. A field that is
not defined here is an error. Configs in sweeps/configs/mf_*.py start from this one.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.name = "mf_base"  # label written into the outputs
    c.family = "mean_field"  # selects this job (sweeps.run dispatches on it)
    # --- data: x ~ N(0, I_d); single_index y = sigma(<w*, x>) + tau eps, or pure_noise tau eps
    c.d = 50  # input dimension
    c.alpha = 0.3  # samples per parameter: n = round(alpha m d) (fixed while m varies)
    c.target = ("single_index",)  # single_index | pure_noise (one program each)
    c.tau = (0.3,)  # label-noise std (lane axis); Bayes test error tau^2 / 2
    # --- network f(x) = (1/m) sum_i a_i sigma(<w_i, x>), rows of W on the unit sphere ---
    c.m = (16, 32, 64)  # widths (one program each)
    c.activation = "hermite3"  # relu_centered | hermite3 | hermite2 (DESIGN.md section 3)
    c.a0 = (1.0,)  # mean-field init: every a_i(0) = a0
    c.lazy_gamma0 = ()  # lazy init: every a_i(0) = gamma0 sqrt(m)
    c.frozen_gamma = ()  # frozen-a control: a = gamma sqrt(m) fixed, only W trained
    c.num_seeds = 4  # seeds of the trained-a runs (each gives data, teacher and init)
    c.frozen_seeds = 2  # seeds of each frozen-a run
    c.seed_offset = 0  # seeds are seed_offset, seed_offset + 1, ...
    # --- clock: paper time, d theta/dt = -(n/d) P grad R_hat ---
    c.t_min = 1e-2  # first non-zero snapshot at t = t_min / m
    c.t_max = 50.0  # last snapshot at t = t_max * m
    c.num_snapshots = 80  # snapshots: t = 0, then log-spaced from t_min/m to t_max*m
    # flow: adaptive Bogacki-Shampine 3(2) steps, whose error control keeps the late, stiff
    # phase stable (the rate grows like mean(a^2)); gd: fixed step lr
    c.integrator = "flow"  # flow | gd
    c.flow = ml_collections.ConfigDict()
    c.flow.rtol = 1e-3  # local error relative to the parameters' size
    c.flow.atol = 1e-9  # absolute floor of the local error
    c.flow.dt_min = 1e-6  # step floor (accepted whatever the error; counted)
    c.flow.dt_max = 10.0  # step ceiling
    c.flow.dt0 = 1e-3  # first step tried
    c.lr = 0.01  # gd only: the step eta in paper time (t = eta * steps)
    # --- claims (alignment/mean_field/claims.py) ---
    c.near_min_level = 0.05  # test error "at its minimum" within this share of it (claim i)
    c.collapse_level = 0.5  # gamma crossing level, as a share of the late gamma (claim ii)
    c.plateau_level = 0.9  # pure noise: plateau ends when train < this x tau^2/2 (claim iv)
    c.interp_level = 0.01  # frozen-a: interpolating when train < this x tau^2/2 (claim iii)
    # --- numerics and layout ---
    c.dtype = "float32"  # float32 | float64
    c.max_lanes = 256  # runs per chunk (one vmapped program call)
    c.snapshots_per_call = 20  # per compiled call (0: all); a checkpoint follows every call
    c.make_figures = True  # draw the figures at the end
    return c
