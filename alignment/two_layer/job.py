"""The threshold job (DESIGN.md section 2): a sweep grid of two-layer runs, their verdicts, n*.

The config (``config.py``) is checked field by field, expanded into a run table and cut into
chunks (``grid.py``); each chunk trains through the verdict loop (``verdict_loop.Task`` in the
runner's chunk loop); ``report.py`` merges the chunks and estimates n* once all are done.
"""

from __future__ import annotations

import numpy as np

from alignment.engine import integrate, train
from alignment.runner.chunks import Chunk, as_list, checked
from alignment.runner.job import Job
from alignment.two_layer import config, grid, records, report, verdict_loop
from alignment.two_layer import family as two_layer

NUMERIC_AXES = ("n", "lam", "lr", "sigma", "d", "m")
SPEEDS = ("displacement", "gradient")
CONTINUE_INTEGRATORS = ("flow", "same")


def check_numbers(cfg) -> None:
    """ValueError naming the first value of a numeric axis that is not a number (before the
    grid is expanded, which would fail on it less clearly)."""
    for name, sub in grid.sub_sweeps(cfg):
        for k in NUMERIC_AXES:
            for v in grid.as_list(sub[k]):
                if isinstance(v, bool) or not isinstance(v, int | float | np.number):
                    raise ValueError(
                        f"{k}={_shown(v)} must be a finite number (sub-sweep {name!r})"
                    )


def _shown(v) -> str:
    """A bad value as the user typed it: 'nan' and 'inf' arrive from the command line as
    strings (ml_collections parses tuple overrides as literals), shown without quotes."""
    if isinstance(v, str) and v.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
        return v
    return repr(v)


def check_config(cfg) -> list[Chunk]:
    """Every field known (alignment/two_layer/config.py) and every value valid; returns the chunks.

    Raises ValueError naming the first problem, before any compute.
    """
    grid.check_fields(cfg, config.get_config())
    check_numbers(cfg)
    per_call = cfg.snapshots_per_call
    if isinstance(per_call, bool) or not isinstance(per_call, int) or per_call < 0:
        raise ValueError(f"snapshots_per_call={per_call!r} must be an integer >= 0 (0: one decade)")
    return validate(cfg, grid.expand(cfg))


def _check_positive(cfg, names, integer=False) -> None:
    for k in names:
        v = cfg[k]
        ok = isinstance(v, int | np.integer) if integer else isinstance(v, int | float)
        if isinstance(v, bool) or not ok or not np.isfinite(v) or v <= 0:
            kind = "a positive integer" if integer else "a finite number > 0"
            raise ValueError(f"{k}={v!r} must be {kind}")


def _check_continuation(cfg) -> None:
    """The caps, budgets and stops of the runs' continuation (ValueError naming the value)."""
    if cfg.time_cap < cfg.max_time:
        raise ValueError(f"time_cap={cfg.time_cap} must be >= max_time={cfg.max_time}")
    cap = cfg.get("escape_cap", 0.0)
    if not (cap == 0 or (np.isfinite(cap) and cap >= cfg.time_cap)):
        raise ValueError(f"escape_cap={cap} must be 0 (none) or >= time_cap={cfg.time_cap}")
    for name in ("later_steps", "round_steps"):
        steps = cfg.get(name, 0.0)
        if not (np.isfinite(steps) and steps >= 0):
            raise ValueError(f"{name}={steps} must be 0 (no limit) or > 0")
    if not cfg.continue_factor > 1:
        raise ValueError(f"continue_factor={cfg.continue_factor} must be > 1")
    later = cfg.get("later_factor", 0.0)
    if not (later == 0 or (np.isfinite(later) and later > 1)):
        raise ValueError(f"later_factor={later} must be 0 (continue_factor) or > 1")
    stop = cfg.get("stop_interpolated", False)
    if not isinstance(stop, bool):
        raise ValueError(f"stop_interpolated={stop!r} must be True or False")


def validate(cfg, runs: dict | None = None) -> list[Chunk]:
    """Checks every value of the grid and returns its chunks; raises ValueError before compute."""
    runs = grid.expand(cfg) if runs is None else runs
    _check_positive(cfg, ("max_lanes", "num_snapshots", "snapshots_per_decade"), integer=True)
    _check_positive(cfg, ("max_time", "t_min", "time_cap", "continue_factor"))
    if cfg.num_snapshots < 2:
        raise ValueError(f"num_snapshots={cfg.num_snapshots} must be >= 2")
    train.time_grid(cfg.max_time, cfg.num_snapshots, cfg.t_min)  # raises on a bad grid
    _check_continuation(cfg)
    if not cfg.bucket_waste >= 0:
        raise ValueError(f"bucket_waste={cfg.bucket_waste} must be >= 0")
    if cfg.n_boot < 0 or cfg.neuron_seeds < 0:
        raise ValueError(f"n_boot={cfg.n_boot} and neuron_seeds={cfg.neuron_seeds} must be >= 0")
    if cfg.speed not in SPEEDS:
        raise ValueError(f"speed={cfg.speed!r} is not one of {SPEEDS}")
    if cfg.continue_integrator not in CONTINUE_INTEGRATORS:
        raise ValueError(
            f"continue_integrator={cfg.continue_integrator!r} is not one of {CONTINUE_INTEGRATORS}"
        )
    for k, v in cfg.verdict.items():
        if not (isinstance(v, int | float) and np.isfinite(v) and v >= 0):
            raise ValueError(f"verdict.{k}={v!r} must be a finite number >= 0")
    for name, sub in grid.sub_sweeps(cfg):
        if sub.num_seeds < 1:
            raise ValueError(f"num_seeds={sub.num_seeds} must be >= 1 (sub-sweep {name!r})")
        if not 0 <= sub.gd_step_sharpness < 2:
            raise ValueError(
                f"gd_step_sharpness={sub.gd_step_sharpness!r} must be in [0, 2)"
                " (0: the fixed step lr)"
            )
        for k in ("n", "lam", "lr", "sigma", "d", "m", "init"):
            if not as_list(sub[k]):
                raise ValueError(f"{k} is empty (sub-sweep {name!r}): give at least one value")
    two_layer.check_lane_values(runs)
    integrate.check_positive(runs, ("lr",))
    return checked(grid.plan(cfg, runs), lambda chunk: grid.lanes_for(runs, chunk.run_ids))


def chunk_task(cfg, runs, chunk: Chunk) -> verdict_loop.Task:
    """The chunk loop's task of one chunk (per-neuron arrays kept for ``neuron_seeds``)."""
    return verdict_loop.Task(cfg, runs, chunk, records.neuron_runs(cfg, runs, chunk))


JOB = Job(
    name="two_layer",
    schema=config.get_config,
    check_config=check_config,
    expand=grid.expand,
    chunk_task=chunk_task,
    call_length=verdict_loop.calls_of,
    finish=report.finish,
    figures="figures.two_layer",
    neutral_fields=("n_boot",),  # only the report's bootstrap reads it
)
