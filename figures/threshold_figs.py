"""Threshold figures: losses and p(n) against n, n* against d, phase diagrams."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alignment.two_layer import threshold, verdicts
from alignment.two_layer.grid import GROUP_AXES
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
)  # fmt: skip


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
        for ax, col, ols_col, title in (
            (axes[0, 0], "train_loss", "ols_train_loss", "train"),
            (axes[0, 1], "test_loss", "ols_test_loss", "test"),
        ):
            for i, (g, rows) in enumerate(groups):
                color = plotting.SERIES_COLORS[i] if len(groups) > 1 else "k"
                sigma2 = float(g["sigma"]) ** 2
                floor = MSE_FLOOR * sigma2 if sigma2 > 0 else 1e-12
                mse = 2 * rows[col].to_numpy(float)
                if len(groups) == 1:
                    for verdict, c in plotting.VERDICT_COLORS.items():
                        sel = rows["verdict"].to_numpy() == verdict
                        if sel.any():
                            low = mse[sel] < floor
                            ax.scatter(rows["n"][sel][~low], mse[sel][~low], s=9, color=c,
                                       alpha=0.6, lw=0, label=f"run: {verdict}")  # fmt: skip
                            if low.any():
                                ax.scatter(rows["n"][sel][low], np.full(low.sum(), floor), s=12,
                                           marker="v", color=c, alpha=0.6, lw=0)  # fmt: skip
                med = rows.assign(mse=mse).groupby("n")["mse"].median()
                label = "median" if len(groups) == 1 else group_label(g, varying)
                ax.plot(med.index, np.maximum(med.to_numpy(), floor), "-o", color=color, ms=3,
                        label=label)  # fmt: skip
                ols = rows.assign(o=2 * rows[ols_col]).groupby("n")["o"].median()
                ax.plot(ols.index, ols.to_numpy(), "--", color=color, lw=1.0,
                        label="OLS (median)" if i == 0 else None)  # fmt: skip
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
            ax.errorbar(n, p, yerr=err, fmt="o", color=color, ms=4, capsize=2,
                        label=label)  # fmt: skip
            if g["n_star"] is not None:
                grid_n = np.geomspace(n.min(), n.max(), 300)
                slope = np.inf if g["slope"] is None else g["slope"]
                ax.plot(grid_n, threshold.predict_p(grid_n, g["n_star"], slope), "-",
                        color=color, lw=1.2, label="logistic fit" if i == 0 else None)  # fmt: skip
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
        ax.errorbar(d, ns, yerr=yerr, fmt="o", color=color, capsize=2,
                    label=f"n* (95% CI){', ' + setting if varying else ''}")  # fmt: skip
        dd = np.geomspace(d.min() / 1.2, d.max() * 1.2, 50)
        ax.plot(dd, fit["prefactor"] * dd ** fit["k"], "-", color=color,
                label=f"fit n* ∝ d^k: k = {fit['k']:.2f} [{fit['k_ci_low']:.2f}, "
                f"{fit['k_ci_high']:.2f}]")  # fmt: skip
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
    ax.plot(dd, at["prefactor"] * dd**k, "--", color="0.5",
            label=f"fit: k = {k:.2f} [{lo:.2f}, {hi:.2f}]")  # fmt: skip
    return set(d.tolist())


def _d_cubed(ax, ds: list[float], groups: list[dict]) -> None:
    """A d^3 line through the smallest d's resolved n* (a slope reference)."""
    first = [g for g in groups if g["n_star"] is not None and g["d"] in ds]
    if not first:
        return
    g0 = min(first, key=lambda g: g["d"])
    dd = np.geomspace(min(ds) / 1.2, max(ds) * 1.2, 50)
    ax.plot(dd, g0["n_star"] * (dd / g0["d"]) ** 3, ":", color="k", lw=0.8, label="∝ d^3")


def _p_grid(rows, axis: str, values, n_values) -> np.ndarray:
    """p(n, axis value) over determined runs (NaN where none is determined)."""
    interp, det = verdicts.outcomes(rows["verdict"].to_numpy())
    p = np.full((len(values), len(n_values)), np.nan)
    for i, v in enumerate(values):
        for j, n in enumerate(n_values):
            sel = (rows[axis].to_numpy() == v) & (rows["n"].to_numpy() == n)
            if det[sel].any():
                p[i, j] = interp[sel].sum() / det[sel].sum()
    return p


def _nstar_points(ax, found: list[dict], axis: str) -> None:
    """Each group's n* with its interval, at its value of ``axis`` (an open bound: no bar)."""
    if not found:
        return
    ns = np.array([g["n_star"] for g in found], float)
    gv = np.array([g[axis] for g in found], float)
    lo = np.array([np.nan if g["ci_low"] is None else g["ci_low"] for g in found], float)
    hi = np.array([np.nan if g["ci_high"] is None else g["ci_high"] for g in found], float)
    xerr = [np.nan_to_num(ns - lo), np.nan_to_num(hi - ns)]
    ax.errorbar(ns, gv, xerr=xerr, fmt="o", color="k", ms=3, capsize=2, label="n* (95% CI)")
    ax.legend(loc="best")


def fig_phase(st: Stored, out: Path, formats) -> Made:
    paths, captions, skipped = [], {}, {}
    symbols = {"lam": "initialization scale λ", "lr": "step size η"}
    for sweep in st.sweeps():
        rows = st.summary[st.summary["sweep"] == sweep]
        groups = st.groups(sweep)
        for axis, symbol in symbols.items():
            name = f"phase_n_{axis}_{sweep}"
            values = np.sort(rows[axis].unique())
            if len(values) < 2 or rows["n"].nunique() < 2:
                skipped[name] = f"{axis} or n takes a single value"
                continue
            others = [k for k in varying_axes([g for g, _ in groups]) if k != axis]
            panels = list(dict.fromkeys(tuple(str(g[k]) for k in others) for g, _ in groups))
            if len(panels) > 4:
                skipped[name] = f"{len(panels)} settings of {others}: too many panels"
                continue
            n_values = np.sort(rows["n"].unique())
            fig, axes = plotting.subplots(
                len(panels), width=min(plotting.PAGE_WIDTH, 3.4 * len(panels)), aspect=0.8
            )
            for ax, panel in zip(axes[0], panels, strict=True):
                sel = np.ones(len(rows), bool)
                for k, v in zip(others, panel, strict=True):
                    sel &= rows[k].astype(str).to_numpy() == v
                p = _p_grid(rows[sel], axis, values, n_values)
                mesh = ax.pcolormesh(_edges(n_values), _edges(values), np.ma.masked_invalid(p),
                                     vmin=0, vmax=1, cmap="coolwarm_r", shading="flat")  # fmt: skip
                keys = [tuple(str(g[k]) for k in others) for g, _ in groups]
                found = [g for (g, _), key in zip(groups, keys, strict=True)
                         if g["n_star"] is not None and key == panel]  # fmt: skip
                _nstar_points(ax, found, axis)
                ax.set_xscale("log")
                ax.set_yscale("log")
                plotting.log_ticks_n(ax)
                ax.set_xlabel("training samples n")
                ax.set_ylabel(symbol)
                title = ", ".join(f"{k}={v}" for k, v in zip(others, panel, strict=True))
                ax.set_title(title or sweep)
            fig.colorbar(mesh, ax=axes[0, -1], label="p = P(interpolating)")
            fig.suptitle(f"{sweep}: interpolation probability over n and {symbol}", fontsize=9)
            paths += plotting.save(fig, out, name, formats)
            captions[name] = (
                f"Phase diagram: fraction of determined runs that interpolate over n and the "
                f"{symbol} (white: no determined run), with n* and its interval at each value "
                "(a panel per setting of the other swept axes)."
            )
    return paths, captions, skipped


def _edges(values) -> np.ndarray:
    """Cell edges on a log axis around sorted positive centres."""
    lv = np.log(np.asarray(values, float))
    if lv.size == 1:
        return np.exp(np.array([lv[0] - 0.5, lv[0] + 0.5]))
    mids = 0.5 * (lv[1:] + lv[:-1])
    return np.exp(np.concatenate([[2 * lv[0] - mids[0]], mids, [2 * lv[-1] - mids[-1]]]))
