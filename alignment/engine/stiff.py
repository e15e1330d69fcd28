"""Gradient flow by a linearly implicit (Rosenbrock) integrator, for long continuations.

Near a minimum gradient flow is stiff: the sharpest direction (lambda_max, up to ~1e2 here) relaxes
in ~1 / lambda_max while the loss moves on times of 1e4 and more. An explicit integrator such as
``integrate.Flow`` is held to steps dt < ~2.5 / lambda_max by stability there, so continuing a run
from t_v to 10 t_v costs ~ t_v lambda_max gradients. ``StiffFlow`` solves with W = I + d dt H
(H the Hessian of the loss at the step's start, by forward-over-reverse differentiation): it is
L-stable, so its step is set by the local error alone and grows as the run settles.

The formula is Shampine and Reichelt's ode23s (The MATLAB ODE Suite, SIAM J. Sci. Comput. 18,
1997) for the autonomous field f = -grad L: order 2 with a third-order error estimate, one
Hessian and one LU factorization a step, three gradients (the last reused by the next step).
Step acceptance and error control are ``integrate.Flow``'s (same rtol, atol, floor and ceiling).
A ReLU network's Hessian jumps where a data point crosses a neuron's hyperplane; the error
control cuts the step there as it does for a kink in the explicit pair.

Cost: the Hessian takes one Jacobian-vector product per parameter and the factorization
P^3 / 3 flops, so it pays off for a few thousand parameters and long, slow continuations.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jax.flatten_util import ravel_pytree

from alignment.engine.integrate import Flow, neg_grad, rms_ratio

D = 1.0 / (2.0 + 2.0**0.5)  # ode23s' diagonal: W = I - D dt J
E32 = 6.0 + 2.0**0.5


@dataclasses.dataclass(frozen=True)
class StiffFlow(Flow):
    """Gradient flow by the Rosenbrock pair ode23s: error-limited, not stability-limited steps."""

    dt_max: float = 1e7  # step ceiling: an L-stable step may be as long as the error allows

    name = "stiff_flow"

    def step(self, loss_and_grad, constrain, params, istate, step, time, goal, lane):
        """One attempted step (see the module docstring), accepted or rejected as ``Flow``'s."""
        del step, lane
        loss0, k0 = istate["loss"], istate["k1"]
        if constrain is not None:
            loss0, k0 = neg_grad(loss_and_grad, params)
        y, unravel = ravel_pytree(params)

        def field(v):
            return ravel_pytree(neg_grad(loss_and_grad, unravel(v))[1])[0]

        dt = jnp.minimum(istate["dt"], goal - time)
        h = dt.astype(y.dtype)
        w = jnp.eye(y.size, dtype=y.dtype) - (h * D) * jax.jacfwd(field)(y)
        lu = jsl.lu_factor(w)
        f0 = ravel_pytree(k0)[0]
        k1 = jsl.lu_solve(lu, f0)
        f1 = field(y + 0.5 * h * k1)
        k2 = jsl.lu_solve(lu, f1 - k1) + k1
        new = unravel(y + h * k2)
        loss2, g2 = neg_grad(loss_and_grad, new)
        f2 = ravel_pytree(g2)[0]
        k3 = jsl.lu_solve(lu, f2 - E32 * (k2 - f1) - 2.0 * (k1 - f0))
        err = unravel((h / 6.0) * (k1 - 2.0 * k2 + k3))
        ratio = rms_ratio(err, params, new, self.rtol, self.atol)
        if constrain is not None:
            new = constrain(new)
        return self.settle(istate, dt, ratio, (params, k0, loss0), (new, g2, loss2), time)
