"""A program's static settings: a model family, an integrator and a dtype (``train.py`` compiles
one per program), with the checks of its per-run values."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np

from alignment.engine import integrate
from alignment.engine.family import Family
from alignment.engine.lanes import Lanes

DTYPES = ("float32", "float64")
SEED = "seed"


@dataclasses.dataclass(frozen=True)
class Program:
    """Static settings of one compiled program (hashable: it keys the compile cache)."""

    family: Family  # a model family (the protocol of alignment/engine/family.py)
    integrator: Any = integrate.GD()  # an integrator (alignment/engine/integrate.py)
    dtype: str = "float32"  # float32 | float64
    diverge_loss: float = 1e10  # a loss above this counts as divergence
    sharpness_iters: int = 8  # power iterations of the Hessian per snapshot (warm-started)
    # lanes a vmapped block runs at a time (0: all; None: on a CPU, as many as fit the cache,
    # from the family's lane_bytes; sharding.lanes_at_once)
    lane_batch: int | None = None

    @property
    def jnp_dtype(self):
        return jnp.dtype(self.dtype)

    @property
    def lane_axes(self) -> tuple[str, ...]:
        return (SEED, *self.family.lane_axes, *self.integrator.lane_axes)

    def validate(self) -> None:
        """Raises ValueError naming the bad value, before any compute."""
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype={self.dtype!r} is not one of {DTYPES}")
        if not self.diverge_loss > 0:
            raise ValueError(f"diverge_loss={self.diverge_loss} must be > 0")
        if not isinstance(self.sharpness_iters, int) or self.sharpness_iters < 1:
            raise ValueError(f"sharpness_iters={self.sharpness_iters!r} must be an integer >= 1")
        if self.lane_batch is not None and not (
            isinstance(self.lane_batch, int) and self.lane_batch >= 0
        ):
            raise ValueError(f"lane_batch={self.lane_batch!r} must be None or an integer >= 0")
        self.family.validate()
        self.integrator.validate()

    def check_lanes(self, lanes: Lanes) -> None:
        """Every per-run value the program reads is present and valid (ValueError if not)."""
        missing = [k for k in self.lane_axes if k not in lanes.values]
        if missing:
            raise ValueError(
                f"per-run values {missing} missing (the program reads {list(self.lane_axes)})"
            )
        seed = lanes.values[SEED]
        if not np.all((np.mod(seed, 1) == 0) & (seed >= 0)):
            raise ValueError(
                f"seed={seed[(np.mod(seed, 1) != 0) | (seed < 0)][0]!r} must be an integer >= 0"
            )
        self.family.check_lanes(lanes.values)
        self.integrator.check_lanes(lanes.values)
