"""Integrators: advance one lane's parameters from its current time towards a target time.

An integrator is a frozen (hashable) dataclass; ``train.py`` arranges the loops and calls it
per lane (inside ``vmap``). It provides

- ``name``, ``lane_axes`` (per-run values it reads, e.g. the step size ``lr``) and
  ``group_axes`` (lanes that differ in these should not share a while loop: they take
  different numbers of steps to reach the same time);
- ``validate()`` and ``check_lanes(lanes)``: ValueError naming the bad value, before compute;
- ``init(params, lane, dtype)``: the integrator's own state (e.g. optax's);
- ``goal(target, lane)``: what a segment's loop compares against, computed once per segment
  (e.g. the step count that reaches ``target``), and ``more(step, time, goal)``: whether the
  lane needs another step;
- ``step(loss_and_grad, constrain, params, istate, step, lane)``: one step, returning
  ``(loss, params, istate, new_time)`` with the loss at the parameters the step started from
  and the new time in float64.

Time is accumulated in float64 whatever the run's dtype.

``GD`` is full-batch optax (gd, momentum, adam): ``t = lr * steps``, and a lane takes
``round(t_target / lr)`` steps to reach ``t_target``, so lanes with different step sizes share
one time grid.
"""

from __future__ import annotations

import dataclasses

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

    name = "gd"
    lane_axes = ("lr",)
    group_axes = ("lr",)

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r} is not one of {OPTIMIZERS}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum={self.momentum} must be in [0, 1)")

    def check_lanes(self, lanes) -> None:
        check_positive(lanes, ("lr",))

    def _opt(self, lane, dtype):
        return make_optimizer(self.optimizer, lane["lr"].astype(dtype), self.momentum)

    def init(self, params, lane, dtype):
        return self._opt(lane, dtype).init(params)

    def target_steps(self, target, lane):
        """Steps a lane must have taken at time ``target``: round(target / lr), in float64."""
        lr = lane["lr"].astype(TIME_DTYPE)
        return jnp.rint(jnp.asarray(target, TIME_DTYPE) / lr).astype(jnp.int64)

    def goal(self, target, lane):
        return self.target_steps(target, lane)

    def more(self, step, time, goal):
        del time
        return step < goal

    def step(self, loss_and_grad, constrain, params, istate, step, lane):
        dtype = jax.tree_util.tree_leaves(params)[0].dtype
        loss, grads = loss_and_grad(params)
        updates, istate = self._opt(lane, dtype).update(grads, istate, params)
        params = constrain(optax.apply_updates(params, updates))
        new_time = (step + 1).astype(TIME_DTYPE) * lane["lr"].astype(TIME_DTYPE)
        return loss, params, istate, new_time


INTEGRATORS = {"gd": GD}
