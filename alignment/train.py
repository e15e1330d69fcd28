"""The vectorized trainer: the one place where jit, vmap, scan and donation are arranged.

A *program* (:class:`Program`) fixes everything that shapes the computation (data model, width,
init scheme, optimizer, padded sample count, dtype). Within a program, every run is one lane of
a ``jax.vmap``: its seed, true n, init scale lam, step size lr and noise sigma are per-lane
values (:class:`Lanes`). A whole trajectory is one jitted call: ``lax.scan`` over the segments
of a snapshot time grid, each segment a ``lax.while_loop`` of optimizer steps, statistics
reduced on device at the end of every segment. Time is ``t = lr * steps``; each lane takes
``round(t_k / lr)`` steps to reach snapshot k, so lanes with different step sizes share one
time grid.

A lane whose loss or parameters become non-finite (or whose loss exceeds ``diverge_loss``) is
flagged with the time it diverged and frozen at its last finite parameters; the other lanes
continue.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from alignment import extremal, model, sharding, stats
from alignment.data import Dataset, DataSpec, augment, make_data

OPTIMIZERS = ("gd", "momentum", "adam")
DTYPES = ("float32", "float64")


@dataclasses.dataclass(frozen=True)
class Program:
    """Static settings of one compiled program (hashable: it keys the compile cache)."""

    data: DataSpec
    m: int  # hidden width
    n_pad: int  # padded training-set size (the bucket size)
    init: str = "balanced"  # balanced | unbalanced | dominated
    bias: bool = False  # hidden bias b_j
    mirrored: bool = False  # second half of the neurons mirrors the first with a negated
    activation: str = "relu"  # relu | gelu
    optimizer: str = "gd"  # gd | momentum | adam (optax)
    momentum: float = 0.9  # for optimizer='momentum'
    n_test: int = 1000  # fresh test samples per run
    dtype: str = "float32"  # float32 | float64
    store_neurons_max: int = 512  # record per-neuron (w_j, b_j), a_j when m <= this
    diverge_loss: float = 1e10  # a loss above this counts as divergence
    align_eps_deg: float = stats.ALIGN_EPS_DEG  # aligned: within this angle of a target
    cluster_eps_deg: float = stats.CLUSTER_EPS_DEG  # angular radius of a direction cluster
    cluster_min_mass: float = stats.CLUSTER_MIN_MASS  # active-mass share a cluster needs
    extremal_starts: int = extremal.NUM_STARTS  # random starts of the extremal-vector finder
    extremal_steps: int = extremal.NUM_STEPS  # projected gradient steps per start

    @property
    def jnp_dtype(self):
        return jnp.dtype(self.dtype)

    def validate(self) -> None:
        """Raises ValueError naming the bad value, before any compute."""
        self.data.validate()
        if not isinstance(self.m, int | np.integer) or self.m < 1:
            raise ValueError(f"m={self.m!r} must be a positive integer")
        if self.init not in model.INIT_SCHEMES:
            raise ValueError(f"init={self.init!r} is not one of {model.INIT_SCHEMES}")
        if self.mirrored and self.m % 2:
            raise ValueError(f"mirrored init needs an even width, got m={self.m}")
        if self.activation not in model.ACTIVATIONS:
            raise ValueError(f"activation={self.activation!r} is not one of {model.ACTIVATIONS}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r} is not one of {OPTIMIZERS}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum={self.momentum} must be in [0, 1)")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype={self.dtype!r} is not one of {DTYPES}")
        if self.n_pad < 1 or self.n_test < 1:
            raise ValueError(f"n_pad={self.n_pad} and n_test={self.n_test} must be positive")
        if self.data.is_symmetric and (self.n_pad % 2 or self.n_test % 2):
            raise ValueError(
                f"symmetric data needs even n_pad and n_test, got {self.n_pad}, {self.n_test}"
            )


class Lanes(NamedTuple):
    """Per-run values, each of shape (R,): one entry per vmapped run."""

    seed: np.ndarray
    n: np.ndarray
    lam: np.ndarray
    lr: np.ndarray
    sigma: np.ndarray

    @classmethod
    def make(cls, seed, n, lam, lr, sigma) -> Lanes:
        """Broadcasts scalars/sequences to a common run axis and validates every value."""
        values = [np.atleast_1d(np.asarray(v)) for v in (seed, n, lam, lr, sigma)]
        try:
            seed, n, lam, lr, sigma = np.broadcast_arrays(*values)
        except ValueError:
            shapes = dict(zip(cls._fields, (v.shape for v in values), strict=True))
            raise ValueError(f"per-run values have mismatched shapes {shapes}") from None
        if seed.ndim != 1:
            raise ValueError(f"per-run values must be 1-D, got shape {seed.shape}")
        for name, v in (("n", n), ("lam", lam), ("lr", lr)):
            bad = v[~(np.isfinite(v) & (v > 0))]
            if bad.size:
                raise ValueError(f"{name}={bad[0].item()!r} must be finite and > 0")
        if not np.all(np.equal(np.mod(n, 1), 0)):
            raise ValueError(f"n={n[np.mod(n, 1) != 0][0].item()!r} must be an integer")
        bad = sigma[~(np.isfinite(sigma) & (sigma >= 0))]
        if bad.size:
            raise ValueError(f"sigma={bad[0].item()!r} must be finite and >= 0")
        return cls(seed.astype(np.int64), n.astype(np.int64), lam, lr, sigma)

    def __len__(self) -> int:
        return len(self.seed)


class RunContext(NamedTuple):
    """Per-run constants made once at t = 0 (not donated, read by every snapshot)."""

    train: Dataset
    test: Dataset
    beta_star: jax.Array  # teacher direction
    ref: stats.Reference  # OLS reference on the same data
    balance0_M: jax.Array  # a_j^2 - ||(w_j, b_j)||^2 at init
    lr: jax.Array
    extremal: extremal.Extremal  # extremal vectors of G_n on the training set (neuron space)
    norm0_max: jax.Array  # max_j ||(w_j, b_j)|| at init


class TrainState(NamedTuple):
    """The carried (and donated) state of one run."""

    params: model.Params
    opt_state: optax.OptState
    step: jax.Array  # optimizer steps taken
    diverged: jax.Array  # bool
    diverge_time: jax.Array  # time of the first non-finite step (inf if none)


def make_optimizer(name: str, lr, momentum: float = 0.9) -> optax.GradientTransformation:
    """optax optimizer by name; ``lr`` may be a traced per-run scalar."""
    if name == "gd":
        return optax.sgd(lr)
    if name == "momentum":
        return optax.sgd(lr, momentum=momentum)
    if name == "adam":
        return optax.adam(lr)
    raise ValueError(f"optimizer={name!r} is not one of {OPTIMIZERS}")


def time_grid(max_time: float, num: int = 200, t_min: float | None = None) -> np.ndarray:
    """Snapshot times: 0, then ``num - 1`` log-spaced times from t_min to max_time."""
    if not max_time > 0 or num < 2:
        raise ValueError(f"need max_time > 0 and num >= 2, got max_time={max_time}, num={num}")
    t_min = max_time * 1e-4 if t_min is None else t_min
    if not 0 < t_min <= max_time:
        raise ValueError(f"t_min={t_min} must be in (0, max_time={max_time}]")
    return np.concatenate([[0.0], np.geomspace(t_min, max_time, num - 1)])


def _loss_fn(prog: Program, train: Dataset):
    """(loss, grads) of one run's training loss, as ``jax.value_and_grad(model.loss)`` gives.

    For ReLU the gradient is written out (autodiff for other activations). Since
    relu(z) = 1[z > 0] z, one backward matmul P = M X with M_ji = 1[z_ji > 0] dL/dh_i gives
    every gradient: grad_w = a P, grad_b = a sum_i M, grad_a = <w, P> + b sum_i M. That saves
    the second backward matmul and the stored activations, and keeping the preactivations as
    (m, n) lets XLA:CPU run both matmuls in its fast layouts (BENCHMARKS.md: 2-3x per step).
    """
    x_NxD, y_N, mask_N, n = train.x_NxD, train.y_N, train.mask_N, train.n
    if prog.activation != "relu":
        loss = functools.partial(
            model.loss, x_NxD=x_NxD, y_N=y_N, mask_N=mask_N, n=n, activation=prog.activation
        )
        return jax.value_and_grad(loss)

    def loss_and_grad(params: model.Params):
        w_MxD, a_M = params["w"], params["a"]
        z_MxN = w_MxD @ x_NxD.T
        if "b" in params:
            z_MxN = z_MxN + params["b"][:, None]
        r_N = (a_M @ jax.nn.relu(z_MxN) - y_N) * mask_N
        on_MxN = jnp.where(z_MxN > 0, r_N * mask_N / n, 0)  # 1[z > 0] dL/dh
        p_MxD = on_MxN @ x_NxD
        grads = {"w": a_M[:, None] * p_MxD, "a": jnp.sum(w_MxD * p_MxD, axis=1)}
        if "b" in params:
            s_M = jnp.sum(on_MxN, axis=1)
            grads["b"] = a_M * s_M
            grads["a"] = grads["a"] + params["b"] * s_M
        return 0.5 * jnp.sum(r_N * r_N) / n, grads

    return loss_and_grad


def _init_run(prog: Program, seed, n, lam, lr, sigma) -> tuple[TrainState, RunContext]:
    """One run's data, parameters and optimizer state (vmapped over lanes)."""
    dtype = prog.jnp_dtype
    key = jax.random.key(seed)
    train, test, beta = make_data(
        jax.random.fold_in(key, 0),
        prog.data,
        n,
        prog.n_pad,
        sigma.astype(dtype),
        prog.n_test,
        dtype,
    )
    params = model.init_params(
        jax.random.fold_in(key, 1),
        prog.data.d,
        prog.m,
        lam.astype(dtype),
        prog.init,
        bias=prog.bias,
        mirrored=prog.mirrored,
        dtype=dtype,
    )
    lr = lr.astype(dtype)
    opt_state = make_optimizer(prog.optimizer, lr, prog.momentum).init(params)
    state = TrainState(
        params,
        opt_state,
        jnp.zeros((), jnp.int64),
        jnp.zeros((), bool),
        jnp.asarray(jnp.inf, dtype),
    )
    ctx = RunContext(
        train,
        test,
        beta,
        stats.ols_reference(train, test, prog.bias),
        stats.balancedness(params),
        lr,
        extremal.find_extremal(
            jax.random.fold_in(key, 2),
            augment(train.x_NxD, prog.bias),
            train.y_N,
            train.mask_N,
            train.n,
            prog.extremal_starts,
            prog.extremal_steps,
        ),
        jnp.max(jnp.linalg.norm(model.neuron_vectors(params), axis=1)),
    )
    return state, ctx


def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def _train_run(prog: Program, state: TrainState, ctx: RunContext, targets_K):
    """Runs one lane to each snapshot's step target in turn, recording statistics."""
    opt = make_optimizer(prog.optimizer, ctx.lr, prog.momentum)
    grad_fn = _loss_fn(prog, ctx.train)

    def step(s: TrainState) -> TrainState:
        loss, grads = grad_fn(s.params)
        updates, opt_state = opt.update(grads, s.opt_state, s.params)
        params = optax.apply_updates(s.params, updates)
        ok = jnp.isfinite(loss) & (loss < prog.diverge_loss) & _all_finite(params)
        keep = functools.partial(jnp.where, ok)
        return TrainState(
            params=jax.tree_util.tree_map(keep, params, s.params),
            opt_state=jax.tree_util.tree_map(keep, opt_state, s.opt_state),
            step=s.step + ok.astype(s.step.dtype),
            diverged=~ok,
            diverge_time=jnp.where(ok, s.diverge_time, s.step * ctx.lr),
        )

    def segment(s: TrainState, target):
        s = jax.lax.while_loop(lambda s: (s.step < target) & ~s.diverged, step, s)
        snap = stats.snapshot_stats(
            s.params,
            ctx.train,
            ctx.test,
            ctx.balance0_M,
            prog.activation,
            prog.m <= prog.store_neurons_max,
            beta_hat=ctx.ref.beta_hat,
            ext=ctx.extremal,
            norm0_max=ctx.norm0_max,
            align_eps_deg=prog.align_eps_deg,
            cluster_eps_deg=prog.cluster_eps_deg,
            cluster_min_mass=prog.cluster_min_mass,
        )
        snap["time"] = s.step * ctx.lr
        snap["diverged"] = s.diverged
        return s, snap

    return jax.lax.scan(segment, state, targets_K)


@functools.cache
def compiled(prog: Program, mesh: jax.sharding.Mesh | None = None):
    """(init, train) for a program: jit(vmap(...)) over the run axis, state donated.

    With a mesh, the run axis is split over its devices (``sharding.shard_runs``); the run
    count must then be a multiple of the mesh size (``init_runs`` and ``train`` pad it).
    """

    def batched(fn):
        return jax.vmap(fn) if mesh is None else sharding.shard_runs(fn, mesh)

    init = jax.jit(batched(functools.partial(_init_run, prog)))
    train = jax.jit(batched(functools.partial(_train_run, prog)), donate_argnums=0)
    return init, train


def init_runs(
    prog: Program, lanes: Lanes, shard: bool | None = None
) -> tuple[TrainState, RunContext]:
    """Data, OLS reference and initial parameters of every lane.

    ``shard`` splits the lanes over this process's devices (default: when it has several,
    see ``sharding.default_mesh``); results equal the unsharded ones to rounding. Lanes are
    padded so that no device runs a lone lane, which rounds differently (``sharding``).
    """
    prog.validate()
    for n in np.unique(lanes.n):
        prog.data.validate(n=int(n))
    if np.max(lanes.n) > prog.n_pad:
        raise ValueError(f"n={np.max(lanes.n)} exceeds the program's padded size {prog.n_pad}")
    dtype = prog.jnp_dtype
    args = (
        jnp.asarray(lanes.seed, jnp.uint32),
        jnp.asarray(lanes.n, jnp.int64),
        jnp.asarray(lanes.lam, dtype),
        jnp.asarray(lanes.lr, dtype),
        jnp.asarray(lanes.sigma, dtype),
    )
    mesh = sharding.default_mesh(shard)
    init, _ = compiled(prog, mesh)
    return sharding.take_runs(init(*sharding.to_runs(args, mesh)), len(lanes))


def step_targets(times_K: np.ndarray, lr_R: np.ndarray) -> np.ndarray:
    """Steps each lane must have taken at each snapshot: round(t_k / lr), shape (R, K)."""
    return np.rint(np.asarray(times_K)[None, :] / np.asarray(lr_R)[:, None]).astype(np.int64)


def train(
    prog: Program, state: TrainState, ctx: RunContext, times_K, lr_R, frozen_R=None, shard=None
):
    """Continues every lane through the snapshot times (absolute times, increasing).

    Lanes marked in ``frozen_R`` take no further step (their snapshots repeat), which is how
    runs that already have a verdict wait while the others continue. ``state`` is donated: use
    the returned one. Returns (state, snapshots), snapshots a dict of arrays with leading axes
    (R, K). ``shard`` as in ``init_runs``.
    """
    times_K = np.asarray(times_K, dtype=np.float64)
    if times_K.ndim != 1 or np.any(np.diff(times_K) < 0) or np.any(times_K < 0):
        raise ValueError("times must be a 1-D non-decreasing array of non-negative times")
    targets_RxK = step_targets(times_K, lr_R)
    if frozen_R is not None:
        steps_R = np.asarray(state.step)
        targets_RxK = np.where(np.asarray(frozen_R)[:, None], steps_R[:, None], targets_RxK)
    mesh = sharding.default_mesh(shard)
    _, run = compiled(prog, mesh)
    args = sharding.to_runs((state, ctx, jnp.asarray(targets_RxK)), mesh)
    return sharding.take_runs(run(*args), len(targets_RxK))
