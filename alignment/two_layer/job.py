"""The threshold job (DESIGN.md section 2): a sweep grid of two-layer runs, their verdicts, n*.

The config (``config.py``) is checked field by field, expanded into a run table and cut into
chunks (``grid.py``); each chunk trains through the verdict loop (``verdict_loop.Task`` in the
runner's chunk loop); ``report.py`` merges the chunks and estimates n* once all are done.
"""

from __future__ import annotations

import numpy as np

from alignment.runner.chunks import Chunk
from alignment.runner.job import Job
from alignment.two_layer import config, grid, records, report, verdict_loop

NUMERIC_AXES = ("n", "lam", "lr", "sigma", "d", "m")


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
    return grid.validate(cfg, grid.expand(cfg))


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
