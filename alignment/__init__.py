"""Vectorized simulations of early alignment in small-initialization two-layer ReLU networks.

float64 is enabled at import, before any array is made, so that runs can choose float32 (the
default) or float64 per sweep; every array the library makes carries an explicit dtype.
"""

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"
