"""Verdict figures: n*(T) against the training time T, and which criterion decided each run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.patches import Patch

from figures import style as plotting
from figures.load import Made, Stored, group_label, named_lines, varying_axes

# decided_by values (alignment/two_layer/verdict/verdicts.py), in the order and colours of the
# legend
DECIDED_BY = {
    "tolerance": ("interpolating: loss below tolerance", "#1f77b4"),
    "certified": ("stuck: local minimum (region, no escape, no kink) + stationary", "#d62728"),
    "stationary": ("stuck: stationary only (no certificates)", "#ff9896"),
    "at_minimum": ("stuck: at a certified local minimum, approaching", "#4a0008"),
    "polished": ("stuck: near a certified local minimum (polished)", "#fb6a4a"),
    "escape": ("saddle: a small neuron escapes", "#ff7f0e"),
    "kink": ("saddle: crossing a kink lowers the loss", "#fdae6b"),
    "split": ("saddle: splitting a cluster lowers the loss", "#e6550d"),
    "on_its_way": ("open: region minimum ~0, loss falling", "#c5b0d5"),
    "region_min_zero": ("open: region minimum ~0", "#9467bd"),
    "region_gap": ("open: flat, above its region minimum", "#8c564b"),
    "not_stationary": ("open: at its region minimum, still moving", "#e377c2"),
    "moving": ("open: still moving", "#7f7f7f"),
    "escaping": ("open: moving, a small neuron growing", "#c49c94"),
    "gd_edge": ("open: GD at the edge of stability", "#17becf"),
    "qp_failed": ("open: region QP did not solve", "#bcbd22"),
    "trainer": ("diverged", "#000000"),
}


def _group_marks(ax, g: dict, color, label_suffix: str, drawn: set) -> None:
    """One group's n*(T) with its intervals, its certified n* and the both-ways band (each
    drawn only where it exists; ``drawn`` collects the kinds drawn, for the caption)."""
    by_t = [e for e in g["n_star_by_time"] if e["n_star"] is not None]
    if by_t:
        T = np.array([e["T"] for e in by_t])
        ns = np.array([e["n_star"] for e in by_t])
        lo = np.array([np.nan if e["ci_low"] is None else e["ci_low"] for e in by_t])
        hi = np.array([np.nan if e["ci_high"] is None else e["ci_high"] for e in by_t])
        ax.errorbar(
            T,
            ns,
            yerr=[ns - np.where(np.isnan(lo), ns, lo), np.where(np.isnan(hi), ns, hi) - ns],
            fmt="o-",
            color=color,
            ms=4,
            capsize=2,
            label="n*(T): loss < tol by T" + label_suffix,
        )
    if g["n_star"] is not None:
        ax.axhline(g["n_star"], color=color, ls="--", lw=1.0, label="certified n*")
        drawn.add("certified")
        both = g.get("interval_both", {})
        if both.get("ci_low") is not None and both.get("ci_high") is not None:
            drawn.add("band")
            ax.axhspan(
                both["ci_low"],
                both["ci_high"],
                color=color,
                alpha=0.12,
                lw=0,
                label="interval, open runs both ways",
            )


def fig_nstar_vs_time(st: Stored, out: Path, formats) -> Made:
    paths, captions, skipped = [], {}, {}
    for sweep in st.sweeps():
        name = f"nstar_vs_time_{sweep}"
        groups = [(g, r) for g, r in st.groups(sweep) if g.get("n_star_by_time")]
        if not groups or len(groups) > len(plotting.SERIES_COLORS):
            skipped[name] = "no n*(T) in threshold.json" if not groups else "too many groups"
            continue
        varying = varying_axes([g for g, _ in groups])
        fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.3, aspect=0.75)
        ax = axes[0, 0]
        drawn = set()  # the kinds of mark some group has, for the caption
        for i, (g, _) in enumerate(groups):
            suffix = f", {group_label(g, varying)}" if varying else ""
            _group_marks(ax, g, plotting.SERIES_COLORS[i], suffix, drawn)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training time T")
        ax.set_ylabel("threshold n*")
        ax.set_title(sweep)
        if ax.get_legend_handles_labels()[0]:  # (no labelled artist when no n*(T) was found)
            ax.legend(loc="best", fontsize="small")
        paths += plotting.save(fig, out, name, formats)
        marks = named_lines(
            {
                "certified": "dashed: n* from the certified verdicts",
                "band": "band: the interval covering the runs without a verdict counted both ways",
            },
            drawn,
        )
        captions[name] = (
            "n*(T), the threshold of 'train loss below the interpolation tolerance by time T' "
            f"(bootstrap 95% intervals), against T{'; ' + marks if marks else ''}."
        )
    return paths, captions, skipped


def fig_decided_by(st: Stored, out: Path, formats) -> Made:
    paths, captions, skipped = [], {}, {}
    for sweep in st.sweeps():
        name = f"decided_by_{sweep}"
        groups = st.groups(sweep)
        if "decided_by" not in st.summary or len(groups) > 4:
            skipped[name] = "no decided_by column" if len(groups) <= 4 else "more than 4 groups"
            continue
        varying = varying_axes([g for g, _ in groups])
        fig, axes = plotting.subplots(len(groups), width=plotting.PAGE_WIDTH, aspect=0.45)
        used = set()
        for ax, (g, rows) in zip(axes.ravel(), groups, strict=False):
            n_vals = np.unique(rows["n"].to_numpy())
            col = np.searchsorted(n_vals, rows["n"].to_numpy())
            seeds = rows["seed"].to_numpy()
            why = rows["decided_by"].astype(str).to_numpy()
            for key, (label, color) in DECIDED_BY.items():
                sel = why == key
                if sel.any():
                    used.add(key)
                    ax.scatter(col[sel], seeds[sel], s=40, marker="s", color=color, label=label)
            ax.set_xticks(range(len(n_vals)), [str(int(v)) for v in n_vals])
            ax.set_xlabel("training samples n")
            ax.set_ylabel("seed")
            ax.set_title(group_label(g, varying) if varying else sweep)
        handles = [
            Patch(color=DECIDED_BY[k][1], label=DECIDED_BY[k][0]) for k in DECIDED_BY if k in used
        ]
        fig.legend(handles=handles, loc="outside right center", fontsize="small")
        paths += plotting.save(fig, out, name, formats)
        captions[name] = (
            "Every run (n, seed) coloured by the criterion that decided its verdict, or by what "
            "kept it open at the time cap (columns decided_by, region_min, region_gap, kappa_max, "
            "predicted_escape_time, grad_slope, flat_change of summary.csv hold the numbers)."
        )
    return paths, captions, skipped
