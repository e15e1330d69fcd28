"""Threshold figures: losses and p(n) against n, n* against d, phase diagrams."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alignment.two_layer.grid import GROUP_AXES
from alignment.two_layer.nstar import threshold
from figures import style as plotting
from figures.load import (
    MSE_FLOOR,
    Made,
    Stored,
    group_label,
    mark_nstar,
    nstar_text,
    varying_axes,
    wilson,
)


def _runs_by_verdict(ax, rows, mse, floor: float) -> None:
    """Per-seed points coloured by verdict; runs below ``floor`` drawn at it as triangles."""
    for verdict, c in plotting.VERDICT_COLORS.items():
        sel = rows["verdict"].to_numpy() == verdict
        if not sel.any():
            continue
        low = mse[sel] < floor
        n = rows["n"][sel]
        style = {"color": c, "alpha": 0.6, "lw": 0, "zorder": 3}  # above the medians' dots
        ax.scatter(n[~low], mse[sel][~low], s=9, label=f"run: {verdict}", **style)
        if low.any():
            ax.scatter(n[low], np.full(low.sum(), floor), s=12, marker="v", **style)


def _loss_panel(ax, groups, col: str, ols_col: str, title: str, varying) -> None:
    """One panel of loss_vs_n: every group's runs (one group), medians, OLS and noise."""
    for i, (g, rows) in enumerate(groups):
        color = plotting.SERIES_COLORS[i] if len(groups) > 1 else "k"
        sigma2 = float(g["sigma"]) ** 2
        floor = MSE_FLOOR * sigma2 if sigma2 > 0 else 1e-12
        mse = 2 * rows[col].to_numpy(float)
        if len(groups) == 1:
            _runs_by_verdict(ax, rows, mse, floor)
        med = rows.assign(mse=mse).groupby("n")["mse"].median()
        label = "median" if len(groups) == 1 else group_label(g, varying)
        ax.plot(med.index, np.maximum(med.to_numpy(), floor), "-o", color=color, ms=3, label=label)
        ols = rows.assign(o=2 * rows[ols_col]).groupby("n")["o"].median()
        ols_label = "OLS (median)" if i == 0 else None
        ax.plot(ols.index, ols.to_numpy(), "--", color=color, lw=1.0, label=ols_label)
        if sigma2 > 0 and i == 0:
            ax.axhline(sigma2, color="0.4", ls=":", lw=1.0, label="σ² (noise)")
        if len(groups) == 1:
            mark_nstar(ax, g)
    ax.set_xscale("log")
    ax.set_yscale("log")
    plotting.log_ticks_n(ax)
    ax.set_xlabel("training samples n")
    ax.set_ylabel(f"{title} MSE  (2L)")
    ax.set_title(f"{title} error")


def fig_loss_vs_n(st: Stored, out: Path, formats) -> Made:
    paths, captions, skipped = [], {}, {}
    for sweep in st.sweeps():
        name = f"loss_vs_n_{sweep}"
        groups = st.groups(sweep)
        if all(rows["n"].nunique() < 2 for _, rows in groups):
            skipped[name] = "a single n: nothing to plot against n"
            continue
        if len(groups) > len(plotting.SERIES_COLORS):
            skipped[name] = f"{len(groups)} groups: see the phase diagram instead"
            continue
        varying = varying_axes([g for g, _ in groups])
        fig, axes = plotting.subplots(2, width=plotting.PAGE_WIDTH, aspect=0.8)
        _loss_panel(axes[0, 0], groups, "train_loss", "ols_train_loss", "train", varying)
        _loss_panel(axes[0, 1], groups, "test_loss", "ols_test_loss", "test", varying)
        axes[0, 0].legend(loc="best")
        if len(groups) == 1:
            fig.suptitle(f"{sweep}: {nstar_text(groups[0][0])}", fontsize=9)
        paths += plotting.save(fig, out, name, formats)
        captions[name] = (
            "Train and test MSE (2 x loss) against n: per-seed runs coloured by verdict "
            f"(runs below {MSE_FLOOR:g} σ² drawn at that floor as triangles), median over seeds, "
            "the least-squares (OLS) fit on the same data, the noise level σ², and n* with its "
            "interval."
        )
    return paths, captions, skipped


def fig_p_of_n(st: Stored, out: Path, formats) -> Made:
    paths, captions, skipped = [], {}, {}
    for sweep in st.sweeps():
        name = f"p_of_n_{sweep}"
        groups = [(g, rows) for g, rows in st.groups(sweep) if rows["n"].nunique() >= 2]
        if not groups:
            skipped[name] = "a single n: no p(n) curve"
            continue
        if len(groups) > len(plotting.SERIES_COLORS):
            skipped[name] = f"{len(groups)} groups: see the phase diagram instead"
            continue
        varying = varying_axes([g for g, _ in groups])
        fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.3, aspect=0.75)
        ax = axes[0, 0]
        for i, (g, _) in enumerate(groups):
            color = plotting.SERIES_COLORS[i]
            table = [r for r in g["table"] if r["determined"] > 0]
            n = np.array([r["n"] for r in table], float)
            k = np.array([r["interpolating"] for r in table], float)
            m = np.array([r["determined"] for r in table], float)
            lo, hi = wilson(k, m)
            p = k / m
            label = group_label(g, varying) if varying else "p(n) (95% Wilson)"
            err = np.maximum([p - lo, hi - p], 0.0)  # Wilson bounds can round past p = 0, 1
            ax.errorbar(n, p, yerr=err, fmt="o", color=color, ms=4, capsize=2, label=label)
            if g["n_star"] is not None:
                grid_n = np.geomspace(n.min(), n.max(), 300)
                slope = np.inf if g["slope"] is None else g["slope"]
                ax.plot(
                    grid_n,
                    threshold.predict_p(grid_n, g["n_star"], slope),
                    "-",
                    color=color,
                    lw=1.2,
                    label="logistic fit" if i == 0 else None,
                )
                mark_nstar(ax, g, color=color if len(groups) > 1 else "0.3", label=i == 0)
        ax.axhline(0.5, color="0.5", lw=0.6, ls=":")
        ax.set_xscale("log")
        plotting.log_ticks_n(ax)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("training samples n")
        ax.set_ylabel("p(n) = P(interpolating)")
        title = sweep if len(groups) > 1 else f"{sweep}: {nstar_text(groups[0][0])}"
        ax.set_title(title)
        ax.legend(loc="best")
        paths += plotting.save(fig, out, name, formats)
        captions[name] = (
            "Fraction of determined runs that interpolate at each n (95% Wilson intervals), the "
            "logistic fit in log n, and n* where it crosses 1/2 with its bootstrap interval "
            "(runs without a verdict, undetermined or saddle, are left out of p; threshold.json "
            "also gives n* with them counted both ways)."
        )
    return paths, captions, skipped


def fig_nstar_vs_d(st: Stored, out: Path, formats) -> Made:
    name = "nstar_vs_d"
    fits = [f for f in st.report.get("power_law_in_d", []) if f.get("k") is not None]
    if not fits:
        why = "d was not swept" if "power_law_in_d" not in st.report else "no power-law fit"
        return [], {}, {name: why}
    fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.3, aspect=0.8)
    ax = axes[0, 0]
    others = [k for k in GROUP_AXES if k not in ("d", "sweep")]
    varying = [k for k in others if len({str(f[k]) for f in fits}) > 1]
    all_d: set[float] = set()
    for i, fit in enumerate(fits):
        color = plotting.SERIES_COLORS[i % len(plotting.SERIES_COLORS)]
        gs = [g for g in st.report["groups"] if all(str(g[k]) == str(fit[k]) for k in others)]
        gs = [g for g in gs if g["n_star"] is not None]
        d = np.array([g["d"] for g in gs], float)
        ns = np.array([g["n_star"] for g in gs], float)
        lo = np.array([np.nan if g["ci_low"] is None else g["ci_low"] for g in gs], float)
        hi = np.array([np.nan if g["ci_high"] is None else g["ci_high"] for g in gs], float)
        yerr = [np.nan_to_num(ns - lo), np.nan_to_num(hi - ns)]
        setting = group_label(fit, varying)
        ax.errorbar(
            d,
            ns,
            yerr=yerr,
            fmt="o",
            color=color,
            capsize=2,
            label=f"n* (95% CI){', ' + setting if varying else ''}",
        )
        dd = np.geomspace(d.min() / 1.2, d.max() * 1.2, 50)
        ax.plot(
            dd,
            fit["prefactor"] * dd ** fit["k"],
            "-",
            color=color,
            label=f"fit n* ∝ d^k: k = {fit['k']:.2f} [{fit['k_ci_low']:.2f}, "
            f"{fit['k_ci_high']:.2f}]",
        )
        all_d |= set(d.tolist())
        same = [g for g in st.report["groups"] if all(str(g[k]) == str(fit[k]) for k in others)]
        all_d |= _longest(ax, fit, same)
    _d_cubed(ax, sorted(all_d), st.report["groups"])
    ax.set_xscale("log")
    ax.set_yscale("log")
    plotting.log_ticks_n(ax, "x")
    plotting.log_ticks_n(ax, "y")
    ax.set_xticks(sorted(all_d))
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("threshold n*")
    ax.legend(loc="best")
    paths = plotting.save(fig, out, name, formats)
    caption = (
        "The optimization threshold n* against the input dimension (log-log) with its bootstrap "
        "intervals (a bar is missing where the interval is open), and the least-squares power "
        "law n* ∝ d^k with the interval of k; in grey n*(T) at the longest time T (every run "
        "has an outcome) with its own fit, and a d^3 line for reference (the theory's bound "
        "grows faster than d^3)."
    )
    return paths, {name: caption}, {}


def _longest(ax, fit: dict, gs_all: list[dict]) -> set[float]:
    """n*(T) at the longest T per d (grey squares) and its power law (dashed), if fitted;
    returns the d drawn."""
    at = fit.get("at_longest")
    if not at or at.get("k") is None:
        return set()
    ests = [(g["d"], g["n_star_by_time"][-1]) for g in gs_all if g.get("n_star_by_time")]
    ests = [(d, e) for d, e in ests if e["n_star"] is not None]
    d = np.array([x for x, _ in ests], float)
    ns = np.array([e["n_star"] for _, e in ests], float)
    ax.plot(d * 1.02, ns, "s", color="0.5", ms=3, label=f"n*(T = {at['T']:g})")
    dd = np.geomspace(d.min() / 1.2, d.max() * 1.2, 50)
    k, lo, hi = at["k"], at["k_ci_low"], at["k_ci_high"]
    ax.plot(
        dd,
        at["prefactor"] * dd**k,
        "--",
        color="0.5",
        label=f"fit: k = {k:.2f} [{lo:.2f}, {hi:.2f}]",
    )
    return set(d.tolist())


def _d_cubed(ax, ds: list[float], groups: list[dict]) -> None:
    """A d^3 line through the smallest d's resolved n* (a slope reference)."""
    first = [g for g in groups if g["n_star"] is not None and g["d"] in ds]
    if not first:
        return
    g0 = min(first, key=lambda g: g["d"])
    dd = np.geomspace(min(ds) / 1.2, max(ds) * 1.2, 50)
    ax.plot(dd, g0["n_star"] * (dd / g0["d"]) ** 3, ":", color="k", lw=0.8, label="∝ d^3")
