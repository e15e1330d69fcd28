"""The tolerances of a run's verdict (``verdicts.py``), each with the reason for its value.

A config's ``verdict`` section holds every field (``VerdictTolerances.from_config``), and
``threshold.json`` records them.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class VerdictTolerances:
    """Tolerances of the verdict; ``dataclasses.asdict`` gives the keyword arguments of
    :func:`verdicts` and the record written to threshold.json."""

    # Interpolating: L_final < max(abs_tol, rel_tol * scale). float32 losses bottom out around
    # 1e-7 of the scale; a non-interpolating (OLS-like) solution sits at about
    # (sigma^2 / 2)(1 - d/n), >= 1e-4 of the scale for sigma >= 0.01. 1e-5 is 100x above the
    # float32 floor and 10x or more below any stuck loss of the suite.
    rel_tol: float = 1e-5
    # Only matters when the scale is ~0 (targets ~0); far below any loss of unit-scale data.
    abs_tol: float = 1e-10
    # Stuck, gradient: t g^2 / L (= -dlogL/dlogt under gradient flow) below this. A steady
    # drift at this log-slope changes L by 2.3e-4 over a decade, under flat_tol; an approach
    # L* + c/t that passes flat_tol has log-slope flat_tol / 9, about this value.
    grad_tol: float = 1e-4
    # Stuck, flatness: relative loss change over the last decade below this. 1e-3 is 1e4x above
    # float32 rounding of the loss and 10x below the 1% a loss moves in a decade at log-slope 4e-3.
    flat_tol: float = 1e-3
    # Relative slack on t_final / 10 when looking for the start of the last decade: recorded
    # times are steps * lr in float32, so a grid point meant to be t_final / 10 may land a hair
    # above it.
    decade_slack: float = 1e-3
    # Stuck, region: (L - region_min) / L below this. The QP is solved to ~1e-8; a run within
    # 1e-3 of its region's minimum has converged inside its region as far as flatness (1e-3 per
    # decade) can tell.
    gap_tol: float = 1e-3
    # Saddle: a small neuron escapes when its growth rate kappa exceeds this (1 / time units).
    # kappa is exactly 0 on a dead direction and is reached from below there; 1e-7 separates
    # rounding at a kink (~1e-8 of a unit-scale residual in float32) from growth that shows within
    # any time cap of the suite (escape time log(1/rho^2) / 2 kappa ~ 1e8 at 1e-7).
    kappa_tol: float = 1e-7
    # Saddle across a kink: a move of the groups across the data points on their hyperplanes
    # at the region minimum (or, for a cluster, a split) lowers the loss at a rate above this
    # share of r_rms x_on / n (kinks.kink_test). The region minimizer is solved to ~1e-8 of
    # that scale, so a smooth minimum reads ~1e-8; a rate at 1e-4 of it still lowers the loss
    # by 1e-4 of the residual per unit of move, far above the solver's noise and far below an
    # O(1) rate of a real kink.
    kink_tol: float = 1e-4
    # An undetermined GD run whose last eta * lambda_max is at least this is labelled
    # 'gd_edge' rather than 'moving': GD follows gradient flow only while eta * lambda_max < 2,
    # and a run that sharpened to within 5% of that edge no longer says what the flow does.
    gd_edge: float = 1.9

    def to_dict(self) -> dict:
        return {k: float(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_config(cls, section) -> VerdictTolerances:
        """The tolerances of a config's ``verdict`` section (every field, as floats)."""
        return cls(**{k: float(v) for k, v in section.items()})


DEFAULT_TOLERANCES = VerdictTolerances()


def interp_tol(scale_R, tol: VerdictTolerances = DEFAULT_TOLERANCES) -> np.ndarray:
    """The loss under which a run interpolates: max(abs_tol, rel_tol * scale), a non-finite
    scale counting as 0."""
    scale = np.asarray(scale_R, dtype=np.float64)
    return np.maximum(tol.abs_tol, tol.rel_tol * np.where(np.isfinite(scale), scale, 0.0))
