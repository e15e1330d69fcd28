"""Integrators: advance one lane's parameters from its current time towards a target time.

An integrator is a frozen (hashable) dataclass; ``train.py`` arranges the loops and calls it
per lane (inside ``vmap``). It provides

- ``name``, ``lane_axes`` (per-run values it reads, e.g. the step size ``lr``) and
  ``group_axes`` (lanes that differ in these should not share a while loop: they take
  different numbers of steps to reach the same time);
- ``validate()`` and ``check_lanes(lanes)``: ValueError naming the bad value, before compute;
- ``init(params, lane, dtype, loss_and_grad)``: the integrator's own state (e.g. optax's);
- ``step_size(istate, lane)``: the current time step (snapshots record it times the sharpness);
- ``observe(istate, sharpness, lane)``: the state after a snapshot measured the sharpness
  lambda_max (a per-lane step that follows it; identity for the others);
- ``goal(target, lane)``: what a segment's loop compares against, computed once per segment
  (e.g. the step count that reaches ``target``), and ``more(step, time, goal)``: whether the
  lane needs another step;
- ``step(loss_and_grad, constrain, params, istate, step, time, goal, lane)`` (``constrain`` is
  None for a family without a constraint): one step (an
  adaptive integrator may reject it: parameters and time then stay), returning
  ``(loss, params, istate, new_time)`` with the loss at the parameters the step started from
  and the new time in float64.

Time is accumulated in float64 whatever the run's dtype.

``GD`` is full-batch optax (gd, momentum, adam): ``t = lr * steps``, and a lane takes
``round(t_target / lr)`` steps to reach ``t_target``, so lanes with different step sizes share
one time grid. With ``max_step_sharpness = c > 0`` (plain gd only) it is *faithful* GD: each
lane's step is ``eta = min(lr, c / |lambda_max|)`` from the sharpness measured at its last
snapshot, time is the sum of the steps and the last step of a segment lands on its snapshot
time. GD follows gradient flow only while ``eta * lambda_max < 2``; the cap keeps a margin.

``Flow`` integrates gradient flow dtheta/dt = -grad L (then the family's constraint) with the
Bogacki-Shampine 3(2) embedded pair: per-lane local error control (mixed absolute/relative
tolerance, RMS over all parameters), first-same-as-last (3 gradients per step), a step floor
and ceiling, and steps clipped so that every snapshot time is hit exactly.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

OPTIMIZERS = ("gd", "momentum", "adam")
TIME_DTYPE = jnp.float64


def make_optimizer(name: str, lr, momentum: float = 0.9) -> optax.GradientTransformation:
    """optax optimizer by name; ``lr`` may be a traced per-run scalar."""
    if name == "gd":
        return optax.sgd(lr)
    if name == "momentum":
        return optax.sgd(lr, momentum=momentum)
    if name == "adam":
        return optax.adam(lr)
    raise ValueError(f"optimizer={name!r} is not one of {OPTIMIZERS}")


def check_positive(lanes, names) -> None:
    """ValueError naming the first per-run value of ``names`` that is not finite and > 0."""
    for name in names:
        v = np.asarray(lanes[name], np.float64)
        bad = v[~(np.isfinite(v) & (v > 0))]
        if bad.size:
            raise ValueError(f"{name}={bad[0].item()!r} must be finite and > 0")


@dataclasses.dataclass(frozen=True)
class GD:
    """Fixed-step full-batch descent with an optax optimizer; time t = lr * steps."""

    optimizer: str = "gd"  # gd | momentum | adam
    momentum: float = 0.9  # for optimizer='momentum'
    # > 0: the step is min(lr, this / |lambda_max|) per lane (optimizer 'gd'); 0: fixed lr
    max_step_sharpness: float = 0.0

    name = "gd"
    lane_axes = ("lr",)
    group_axes = ("lr",)

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r} is not one of {OPTIMIZERS}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum={self.momentum} must be in [0, 1)")
        c = self.max_step_sharpness
        if not (np.isfinite(c) and 0.0 <= c < 2.0):
            raise ValueError(f"max_step_sharpness={c!r} must be in [0, 2) (0: a fixed step)")
        if c > 0 and self.optimizer != "gd":
            raise ValueError(
                f"max_step_sharpness={c!r} needs optimizer='gd', got {self.optimizer!r}"
                " (set it to 0 for a fixed step)"
            )

    @property
    def capped(self) -> bool:
        """Whether the step follows the sharpness (faithful GD) rather than staying at lr."""
        return self.max_step_sharpness > 0

    def check_lanes(self, lanes) -> None:
        check_positive(lanes, ("lr",))

    def _opt(self, lane, dtype):
        return make_optimizer(self.optimizer, lane["lr"].astype(dtype), self.momentum)

    def init(self, params, lane, dtype, loss_and_grad):
        del loss_and_grad
        if self.capped:
            return {"eta": lane["lr"].astype(TIME_DTYPE)}
        return self._opt(lane, dtype).init(params)

    def target_steps(self, target, lane):
        """Steps a lane must have taken at time ``target``: round(target / lr), in float64."""
        lr = lane["lr"].astype(TIME_DTYPE)
        return jnp.rint(jnp.asarray(target, TIME_DTYPE) / lr).astype(jnp.int64)

    def goal(self, target, lane):
        if self.capped:
            return jnp.asarray(target, TIME_DTYPE)
        return self.target_steps(target, lane)

    def more(self, step, time, goal):
        if self.capped:
            return time < goal * (1 - 1e-14)
        return step < goal

    def step_size(self, istate, lane):
        """The time step eta (GD follows gradient flow while eta * lambda_max < 2)."""
        return istate["eta"] if self.capped else lane["lr"]

    def observe(self, istate, sharpness, lane):
        """Faithful GD: the next segment's step from the sharpness just measured."""
        if not self.capped:
            return istate
        lam = jnp.abs(sharpness.astype(TIME_DTYPE))
        lr = lane["lr"].astype(TIME_DTYPE)
        ok = jnp.isfinite(lam) & (lam > 0)
        cap = self.max_step_sharpness / jnp.where(ok, lam, 1.0)
        return {"eta": jnp.where(ok, jnp.minimum(lr, cap), lr)}

    def step(self, loss_and_grad, constrain, params, istate, step, time, goal, lane):
        if self.capped:
            return self._capped_step(loss_and_grad, constrain, params, istate, time, goal)
        del time, goal
        dtype = jax.tree_util.tree_leaves(params)[0].dtype
        loss, grads = loss_and_grad(params)
        updates, istate = self._opt(lane, dtype).update(grads, istate, params)
        params = optax.apply_updates(params, updates)
        params = params if constrain is None else constrain(params)
        new_time = (step + 1).astype(TIME_DTYPE) * lane["lr"].astype(TIME_DTYPE)
        return loss, params, istate, new_time

    def _capped_step(self, loss_and_grad, constrain, params, istate, time, goal):
        """One step of min(eta, time left to the snapshot): theta - dt grad L."""
        dt = jnp.minimum(istate["eta"], goal - time)
        loss, grads = loss_and_grad(params)
        params = jax.tree_util.tree_map(lambda p, g: p - dt.astype(p.dtype) * g, params, grads)
        params = params if constrain is None else constrain(params)
        return loss, params, istate, time + dt


def _axpy(params, *terms):
    """params + sum_k c_k * tree_k for (c_k, tree_k) in terms (c_k float64 scalars)."""

    def one(p, *leaves):
        out = p
        for (c, _), leaf in zip(terms, leaves, strict=True):
            out = out + c.astype(p.dtype) * leaf
        return out

    return jax.tree_util.tree_map(one, params, *(t for _, t in terms))


@dataclasses.dataclass(frozen=True)
class Flow:
    """Adaptive Bogacki-Shampine 3(2) integration of gradient flow; time is integrated."""

    rtol: float = 1e-3  # local error relative to the parameters' size (floored at their RMS)
    atol: float = 1e-9  # absolute floor of the local error (tiny early-alignment weights)
    dt_min: float = 1e-6  # step floor: accepted whatever the error (counted in the state)
    dt_max: float = 1e3  # step ceiling
    dt0: float = 1e-2  # first step tried

    name = "flow"
    lane_axes = ()
    group_axes = ()

    def validate(self) -> None:
        for k in ("rtol", "atol", "dt_min", "dt_max", "dt0"):
            v = getattr(self, k)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"flow.{k}={v!r} must be finite and > 0")
        if self.dt_min > self.dt_max:
            raise ValueError(f"flow.dt_min={self.dt_min} must be <= dt_max={self.dt_max}")

    def check_lanes(self, lanes) -> None:
        del lanes

    def init(self, params, lane, dtype, loss_and_grad):
        del lane, dtype
        loss, k1 = _neg_grad(loss_and_grad, params)
        return {
            "dt": jnp.asarray(self.dt0, TIME_DTYPE),
            "k1": k1,  # -grad L at the current parameters (first same as last)
            "loss": loss,
            "accepted": jnp.zeros((), jnp.int64),
            "floored": jnp.zeros((), jnp.int64),  # steps accepted at the floor above tolerance
        }

    def goal(self, target, lane):
        del lane
        return jnp.asarray(target, TIME_DTYPE)

    def more(self, step, time, goal):
        del step
        return time < goal * (1 - 1e-14)

    def step_size(self, istate, lane):
        """The next proposed step (error control keeps it inside the stability region)."""
        del lane
        return istate["dt"]

    def observe(self, istate, sharpness, lane):
        del sharpness, lane
        return istate

    def step(self, loss_and_grad, constrain, params, istate, step, time, goal, lane):
        """One attempted step; with a constraint the stored gradient is recomputed (the
        projection moved the point), without one it is reused (3 gradients a step)."""
        del step, lane
        loss0, k1 = istate["loss"], istate["k1"]
        if constrain is not None:
            loss0, k1 = _neg_grad(loss_and_grad, params)
        dt = jnp.minimum(istate["dt"], goal - time)
        _, k2 = _neg_grad(loss_and_grad, _axpy(params, (dt / 2, k1)))
        _, k3 = _neg_grad(loss_and_grad, _axpy(params, (0.75 * dt, k2)))
        new = _axpy(params, (dt * 2 / 9, k1), (dt / 3, k2), (dt * 4 / 9, k3))
        loss4, k4 = _neg_grad(loss_and_grad, new)
        zero = jax.tree_util.tree_map(jnp.zeros_like, params)
        err = _axpy(zero, (dt * -5 / 72, k1), (dt / 12, k2), (dt / 9, k3), (dt * -1 / 8, k4))
        ratio = _rms_ratio(err, params, new, self.rtol, self.atol)
        floor = dt <= self.dt_min * (1 + 1e-12)
        ok = (ratio <= 1.0) | floor
        grow = jnp.clip(0.9 * jnp.maximum(ratio, 1e-12) ** (-1 / 3), 0.2, 5.0)
        # a step cut short to land on a snapshot keeps the longer proposal it came with
        base = jnp.where(ok, jnp.maximum(dt * grow, jnp.minimum(istate["dt"], dt * 5)), dt * grow)
        if constrain is not None:
            new = constrain(new)
        pick = functools.partial(jax.tree_util.tree_map, functools.partial(jnp.where, ok))
        istate = {
            "dt": jnp.clip(base, self.dt_min, self.dt_max).astype(TIME_DTYPE),
            "k1": pick(k4, k1),
            "loss": jnp.where(ok, loss4, loss0),
            "accepted": istate["accepted"] + ok,
            "floored": istate["floored"] + (floor & (ratio > 1)),
        }
        return loss0, pick(new, params), istate, jnp.where(ok, time + dt, time)


def _neg_grad(loss_and_grad, params):
    loss, g = loss_and_grad(params)
    return loss, jax.tree_util.tree_map(jnp.negative, g)


def _rms_ratio(err, old, new, rtol, atol):
    """RMS over every parameter of err / (atol + rtol max(|old|, |new|, rms(new))), float64.

    The relative part is floored at the RMS size of the whole parameter vector: a tiny neuron
    sitting on a ReLU kink (its gradient jumps by ~ its own size there) would otherwise force
    steps of ~rtol / |residual| however still the network is. Its error stays proportional to its
    size (the network is positively homogeneous), so it cannot grow spuriously.
    """
    leaves = [jax.tree_util.tree_leaves(t) for t in (err, old, new)]
    count = sum(e.size for e in leaves[0])
    rms = jnp.sqrt(sum(jnp.sum(b.astype(TIME_DTYPE) ** 2) for b in leaves[2]) / count)
    sq = 0.0
    for e, a, b in zip(*leaves, strict=True):
        size = jnp.maximum(jnp.maximum(jnp.abs(a), jnp.abs(b)).astype(TIME_DTYPE), rms)
        sq = sq + jnp.sum((e.astype(TIME_DTYPE) / (atol + rtol * size)) ** 2)
    return jnp.sqrt(sq / count)


INTEGRATORS = {"gd": GD, "flow": Flow}
