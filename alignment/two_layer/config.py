"""Every field of a sweep config, with its meaning. Other configs start from this one.

The axes (tuples) are swept: the grid is their product. On the command line a scalar sets a
one-value axis (--config.lam=0.01) and a tuple several (--config.lam="(1e-3,1e-2)").
A field that is not defined here is an error (in a config file or on the command line).

Sub-sweeps: ``sweeps`` maps a name to overrides of the run-defining fields (data, d, x_dist,
symmetric, spread, sigma, file_noise, n, num_seeds, seed_offset, n_test, m, init, lam, bias,
mirrored, activation, optimizer, momentum, gd_step_sharpness, lr, family, integrator, dtype);
the job is the union of the sub-sweeps, each with the top-level values where it sets nothing.
Empty: the config itself is the one sweep.
"""

import dataclasses

import ml_collections

from alignment.two_layer import extremal, stats
from alignment.two_layer.verdict import verdicts


def get_config() -> ml_collections.ConfigDict:
    """The base configuration of the two_layer sweep; every sweep config overrides from it."""
    c = ml_collections.ConfigDict()
    c.name = "base"  # label written into the outputs
    c.family = "two_layer"  # model family (alignment/two_layer/family.py): two_layer
    _data_and_network(c)
    _optimization(c)
    _continuation(c)
    _verdicts_and_layout(c)
    return c


def _data_and_network(c: ml_collections.ConfigDict) -> None:
    """The data sets and the network (lane axes are tuples)."""
    # --- data (DESIGN.md "Data models") ---
    c.data = "linear"  # linear | symmetric | three_points | stewart | xor | separated | file
    c.data_file = ""  # data file: an npz with x (N x d), y (N), optionally x_test, y_test
    c.d = (5,)  # input dimensions (a static axis: one program per value)
    c.x_dist = "gaussian"  # linear inputs: gaussian N(0, I_d) | ball (uniform in the unit ball)
    c.symmetric = False  # double every data set with (-x, -y)
    c.spread = 0.1  # xor: input spread around the cluster centres
    c.sigma = (0.5,)  # label noise std (lane axis) of the built-in data models
    # data=file: std of noise added to the file's targets (default none: y as given; sigma
    # is not used for a file, and summary.csv's sigma column holds this value)
    c.file_noise = 0.0
    c.n = (8, 16, 32, 64, 128, 256)  # training-set sizes (lane axis)
    c.num_seeds = 4  # seeds 0..num_seeds-1 (+ seed_offset): each gives data and init
    c.seed_offset = 0
    c.n_test = 1000  # fresh test samples per run (noise-free targets give the excess risk)
    # --- network (DESIGN.md "Network", "Initialization") ---
    c.m = (100,)  # widths (static axis)
    c.init = ("balanced",)  # balanced | unbalanced | dominated (static axis)
    c.lam = (1e-3,)  # init scale lambda; per-entry scale lambda/sqrt(m) (lane axis)
    c.bias = False  # hidden bias b_j
    c.mirrored = False  # neurons m/2..m mirror 1..m/2 with a negated (h = 0 at start)
    c.activation = "relu"  # relu | gelu


def _optimization(c: ml_collections.ConfigDict) -> None:
    """How time advances and the first snapshot grid."""
    # --- optimization ---
    # how time advances (alignment/engine/integrate.py): gd (fixed steps lr, optax) | flow (adaptive
    # Bogacki-Shampine 3(2) steps of gradient flow; lr is then unused)
    c.integrator = "gd"
    c.flow = ml_collections.ConfigDict()  # the flow integrator's step control
    # local error relative to the parameters' size (floored at their RMS); 1e-3 lets steps on a
    # ReLU kink, where GD would zig-zag, be ~10x longer than 1e-4 does, but at a minimum on a
    # kink such steps can raise the loss and land across the kinks in a lower region: a stuck
    # run continued this way is not following gradient flow (BENCHMARKS.md, "Certified
    # verdicts", the flow block)
    c.flow.rtol = 1e-3
    c.flow.atol = 1e-9  # absolute floor of the local error
    c.flow.dt_min = 1e-6  # step floor (accepted whatever the error; counted)
    c.flow.dt_max = 1e3  # step ceiling
    c.flow.dt0 = 1e-2  # first step tried
    c.optimizer = "gd"  # gd | momentum | adam (optax)
    c.momentum = 0.9  # for optimizer='momentum'
    c.lr = (0.1,)  # step size eta, the largest with faithful GD; time t = sum of steps (lane axis)
    # faithful GD (optimizer gd): each run's step is min(lr, this / lambda_max), lambda_max the
    # sharpness at its last snapshot, so that eta * lambda_max stays below 2, where GD follows
    # gradient flow (time is then the sum of the steps); 0: the fixed step lr, which can sit at
    # the edge of stability (summary.csv's max_step_sharpness says how close each run came);
    # momentum and adam always take their fixed lr
    c.gd_step_sharpness = 1.0
    c.max_time = 1e4  # end of the first snapshot grid
    c.t_min = 1e-1  # first non-zero snapshot time
    c.num_snapshots = 200  # snapshots on the first grid (0, then log-spaced t_min..max_time)


def _continuation(c: ml_collections.ConfigDict) -> None:
    """The continuation of undecided runs: caps, step budgets and stops."""
    c.time_cap = 1e6  # runs without a verdict continue up to this time (continue_factor steps)
    # a run stops stepping once its loss is under the interpolation tolerance (verdict.rel_tol
    # x its loss at t = 0): its verdict can no longer change, and its later snapshots repeat its
    # state at the time it stopped. False: every run steps to max_time (trajectories past
    # interpolation, e.g. the alignment pictures)
    c.stop_interpolated = True
    # a later cap (0: none; else >= time_cap): beyond time_cap, only the open runs whose end is
    # near continue, up to it: their certificates predict an escape from their saddle
    # (predicted_escape_time) or interpolation (interp_time) by this time, they sit at a region
    # minimum they leave across a kink, or they are settling into a certified minimum
    # (alignment/two_layer/rounds.py, near_end)
    c.escape_cap = 0.0
    # the most steps a run leaving a region minimum across a kink may take from time_cap to
    # escape_cap (0: no limit), predicted from its last step size: nothing predicts where such a
    # run goes, and one whose faithful step shrank with its sharpness costs that many times more
    # steps per unit of time (alignment/two_layer/rounds.py, affordable)
    c.later_steps = 0.0
    # the most steps a run may take in one continuation round (0: no limit): one whose faithful
    # step shrank with its sharpness (max(1 / lr, lambda_max / gd_step_sharpness) steps per
    # unit of time) stops there, stays open (budget_stop in summary.csv) and is not continued;
    # it bounds what one run costs, since the slowest lane holds up its lane block
    c.round_steps = 0.0
    c.snapshots_per_decade = 40  # snapshots per decade of continuation (and per compiled call)
    # snapshots per compiled call (0: snapshots_per_decade). A checkpoint is saved after every
    # call, so a smaller value bounds the work a kill can lose on slow chunks; results do not
    # depend on it (tests/test_resume.py pins them byte for byte), only compiles and overhead
    c.snapshots_per_call = 0
    c.continue_factor = 10.0  # each continuation multiplies the time by this (> 1)
    # past time_cap, each round multiplies the time by this (> 1; 0: continue_factor): a round
    # ends with the verdicts of its runs, and a run that settles into a minimum takes steps to
    # the end of its round (only an interpolated run stops inside one), so a shorter round
    # frees its lane sooner at the cost of more certificates (alignment/two_layer/rounds.py)
    c.later_factor = 0.0
    # what runs without a verdict continue with: same (the chunk's own integrator, e.g. GD at
    # lr) | flow (gradient flow by adaptive explicit steps, cfg.flow: follows the flow where GD
    # at lr oscillates, see the step_sharpness column, but is held to dt < ~2.5 / lambda_max:
    # on threshold_quick it took several times GD's wall time, see its docstring)
    c.continue_integrator = "same"


def _verdicts_and_layout(c: ml_collections.ConfigDict) -> None:
    """Verdict tolerances, statistics, numerics and the chunk layout."""
    # --- verdicts (DESIGN.md "Verdicts"): see alignment/two_layer/verdict/verdicts.py ---
    c.verdict = ml_collections.ConfigDict(dataclasses.asdict(verdicts.DEFAULT_TOLERANCES))
    # what the stuck test's gradient criterion (verdict.grad_tol) reads: 'displacement' = mean
    # parameter speed between the last two snapshots, |theta(t_k) - theta(t_k-1)| / dt, which
    # the trainer records for every run and family (robust at ReLU kinks, where GD zig-zags
    # with a finite one-sided gradient) | 'gradient' = the gradient norm at the last snapshot
    c.speed = "displacement"
    # --- per-snapshot statistics of the two_layer family (alignment/two_layer/stats.py) ---
    c.stats = ml_collections.ConfigDict()
    c.stats.align_eps_deg = stats.ALIGN_EPS_DEG  # a neuron within this angle counts as aligned
    c.stats.cluster_eps_deg = stats.CLUSTER_EPS_DEG  # angular radius of a direction cluster
    c.stats.cluster_min_mass = stats.CLUSTER_MIN_MASS  # active-mass share a direction needs
    c.stats.extremal_starts = extremal.NUM_STARTS  # random starts of the extremal-vector finder
    c.stats.extremal_steps = extremal.NUM_STEPS  # projected-gradient steps per start
    # --- numerics and layout ---
    c.dtype = "float32"  # float32 | float64
    c.store_neurons_max = 512  # record per-neuron (w_j, b_j), a_j only when m <= this
    c.neuron_seeds = 1  # chunk files keep per-neuron arrays of the first this-many seeds
    c.max_lanes = 256  # runs per chunk (one vmapped program call)
    c.bucket_waste = 0.5  # allowed padding overhead when grouping n into buckets
    c.n_boot = 1000  # bootstrap resamples for the n* interval
    c.make_figures = True  # the entry points (sweeps.run, sweeps.merge) draw figures at the end
    c.sweeps = ml_collections.ConfigDict()  # sub-sweeps: name -> overrides (see above)
