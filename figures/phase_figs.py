"""The phase diagrams: interpolation probability over n x lambda and n x eta, with n*."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alignment.two_layer.verdict import verdicts
from figures import style as plotting
from figures.load import (
    Made,
    Stored,
    varying_axes,
)


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
                mesh = ax.pcolormesh(
                    _edges(n_values),
                    _edges(values),
                    np.ma.masked_invalid(p),
                    vmin=0,
                    vmax=1,
                    cmap="coolwarm_r",
                    shading="flat",
                )
                keys = [tuple(str(g[k]) for k in others) for g, _ in groups]
                found = [
                    g
                    for (g, _), key in zip(groups, keys, strict=True)
                    if g["n_star"] is not None and key == panel
                ]
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
