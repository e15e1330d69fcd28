"""Curvature of a lane's loss: the sharpness lambda_max(Hessian) by warm-started power iteration.

Pure per-lane functions (``train.py`` calls them inside its vmapped scan, at snapshots only).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _normal_like(key, tree):
    """Standard normal leaves shaped like ``tree``."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    keys = jax.random.split(key, len(leaves))
    new = [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves, strict=True)]
    return jax.tree_util.tree_unflatten(treedef, new)


def _vdot(u, v) -> jax.Array:
    return sum(jnp.vdot(a, b) for a, b in zip(*map(jax.tree_util.tree_leaves, (u, v)), strict=True))


def _unit_tree(v):
    norm = jnp.sqrt(_vdot(v, v))
    return jax.tree_util.tree_map(lambda x: x / jnp.where(norm > 0, norm, 1.0), v)


def sharpness(loss_and_grad, params, probe, iters: int):
    """(lambda, probe): the Rayleigh quotient of the loss's Hessian after ``iters`` power
    iterations (Hessian-vector products by forward-over-reverse) warm-started at ``probe``; it
    converges to the eigenvalue of largest modulus, lambda_max(H) near a minimum."""

    def hvp(v):
        return jax.jvp(lambda p: loss_and_grad(p)[1], (params,), (v,))[1]

    def body(_, carry):
        v, _ = carry
        hv = hvp(v)
        new = _unit_tree(hv)
        ok = _vdot(hv, hv) > 0
        return jax.tree_util.tree_map(functools.partial(jnp.where, ok), new, v), _vdot(v, hv)

    zero = jnp.zeros((), jax.tree_util.tree_leaves(params)[0].dtype)
    probe, lam = jax.lax.fori_loop(0, iters, body, (probe, zero))
    return lam, probe


def random_probe(key, params):
    """A random unit vector shaped like ``params``: the first probe of the power iteration."""
    return _unit_tree(_normal_like(key, params))
