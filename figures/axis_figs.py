"""n* against one axis at a time (sigma, lambda, m, eta), the others held fixed."""

from __future__ import annotations

from pathlib import Path

import matplotlib.ticker
import numpy as np

from alignment.two_layer.grid import GROUP_AXES
from figures import style as plotting
from figures.load import Made, Stored

AXES = {"sigma": "label noise σ", "lam": "init scale λ", "m": "width m", "lr": "step size η"}


def axis_groups(groups: list[dict], axis: str) -> list[dict]:
    """The largest set of groups that differ only in ``axis`` (and the sub-sweep name), with at
    least two values of it, sorted by it; [] when there is none."""
    others = [k for k in GROUP_AXES if k not in (axis, "sweep")]
    by_rest: dict[tuple, dict] = {}
    for g in groups:
        by_rest.setdefault(tuple(str(g[k]) for k in others), {})[float(g[axis])] = g
    best = max(by_rest.values(), key=len, default={})
    return [best[v] for v in sorted(best)] if len(best) >= 2 else []


def _bars(gs: list[dict], key: str | None):
    """Point and error bars of n* (certified, or an alternative estimate ``key``)."""
    est = [g if key is None else g[key] for g in gs]
    ns = np.array([np.nan if e["n_star"] is None else e["n_star"] for e in est], float)
    lo = np.array([np.nan if e["ci_low"] is None else e["ci_low"] for e in est], float)
    hi = np.array([np.nan if e["ci_high"] is None else e["ci_high"] for e in est], float)
    return ns, [np.nan_to_num(ns - lo), np.nan_to_num(hi - ns)]


def _draw(ax, gs: list[dict], axis: str) -> None:
    x = np.array([float(g[axis]) for g in gs])
    ns, err = _bars(gs, None)
    ax.errorbar(
        x,
        ns,
        yerr=err,
        fmt="o",
        color=plotting.SERIES_COLORS[0],
        capsize=2,
        label="n*, certified runs (95% CI)",
    )
    alt, alt_err = _bars(gs, "if_stuck")
    ax.errorbar(
        x * 1.03,
        alt,
        yerr=alt_err,
        fmt="s",
        color="0.55",
        capsize=2,
        ms=3,
        label="runs without a verdict counted as not interpolating",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    plotting.log_ticks_n(ax, "x")
    ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    plotting.log_ticks_n(ax, "y")
    ax.set_xticks(x)
    ax.set_xlabel(AXES[axis])
    ax.set_ylabel("threshold n*")
    ax.legend(loc="best", fontsize="small")


def fig_nstar_vs_axis(st: Stored, out: Path, formats) -> Made:
    """One figure per axis of AXES that the groups sweep with the others fixed."""
    paths, captions, skipped = [], {}, {}
    for axis in AXES:
        name = f"nstar_vs_{axis}"
        gs = axis_groups(st.report.get("groups", []), axis)
        if not gs:
            skipped[name] = f"{axis} was not swept with the other axes fixed"
            continue
        fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.3, aspect=0.8)
        _draw(axes[0, 0], gs, axis)
        paths += plotting.save(fig, out, name, formats)
        captions[name] = (
            f"The optimization threshold n* against the {AXES[axis]}, every other axis fixed: "
            "the estimate from the runs with a verdict and its bootstrap interval (a bar is "
            "missing where the interval is open), and in grey the estimate with the runs "
            "without a verdict counted as not interpolating."
        )
    return paths, captions, skipped
