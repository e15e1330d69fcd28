"""The threshold job's figures: which there are (:data:`FIGURES`) and the stored data they read
(:func:`load`); ``figures.make`` reaches this module through the job (``Job.figures``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from figures.axis_figs import fig_nstar_vs_axis
from figures.dynamics import fig_directions, fig_loss_vs_time
from figures.load import Made, Stored, load
from figures.phase_figs import fig_phase
from figures.threshold_figs import fig_loss_vs_n, fig_nstar_vs_d, fig_p_of_n
from figures.verdict_figs import fig_decided_by, fig_nstar_vs_time

FIGURES: dict[str, Callable[[Stored, Path, tuple], Made]] = {
    "loss_vs_n": fig_loss_vs_n,
    "p_of_n": fig_p_of_n,
    "nstar_vs_d": fig_nstar_vs_d,
    "nstar_vs_axis": fig_nstar_vs_axis,
    "directions": fig_directions,
    "loss_vs_time": fig_loss_vs_time,
    "phase": fig_phase,
    "nstar_vs_time": fig_nstar_vs_time,
    "decided_by": fig_decided_by,
}

__all__ = ["FIGURES", "load"]
