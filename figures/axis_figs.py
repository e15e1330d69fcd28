"""n* against one axis at a time (sigma, lambda, m, eta), the others held fixed."""

from __future__ import annotations

from pathlib import Path

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


def _estimates(gs: list[dict], key: str | None):
    """n*, CI low and high (NaN where absent) of the certified estimate or of ``key``."""
    est = [g if key is None else g[key] for g in gs]
    return [
        np.array([np.nan if e[k] is None else e[k] for e in est], float)
        for k in ("n_star", "ci_low", "ci_high")
    ]


def _series(ax, x, gs, key, label: str, marker: str, color, ms: float = 5) -> None:
    """One estimate against the axis: filled with its interval where the interval is closed,
    hollow where it is open on a side, nothing (and no legend entry) where there is no n*."""
    ns, lo, hi = _estimates(gs, key)
    closed = np.isfinite(ns) & np.isfinite(lo) & np.isfinite(hi)
    open_ = np.isfinite(ns) & ~closed
    if closed.any():
        err = [ns[closed] - lo[closed], hi[closed] - ns[closed]]
        ax.errorbar(
            x[closed], ns[closed], yerr=err, fmt=marker, color=color, ms=ms, capsize=2, label=label
        )
    if open_.any():
        ax.plot(
            x[open_],
            ns[open_],
            marker,
            color=color,
            ms=ms,
            mfc="none",
            ls="none",
            label=f"{label}: interval open",
        )


def _draw(ax, gs: list[dict], axis: str) -> None:
    x = np.array([float(g[axis]) for g in gs])
    color = plotting.SERIES_COLORS[0]
    _series(ax, x, gs, None, "n*, certified runs (95% CI)", "o", color)
    other = "runs without a verdict counted as not interpolating"
    _series(ax, x * 1.03, gs, "if_stuck", other, "s", "0.55", ms=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plotting.log_ticks_n(ax, "x")
    plotting.log_ticks_n(ax, "y")
    ax.set_xticks(x)
    ax.set_xlabel(AXES[axis])
    ax.set_ylabel("threshold n*")
    if ax.get_legend_handles_labels()[0]:
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
            "the estimate from the runs with a verdict and its bootstrap interval (hollow where "
            "the interval is open; no mark where there is no estimate), and in grey the "
            "estimate with the runs without a verdict counted as not interpolating."
        )
    return paths, captions, skipped
