"""Regenerates every figure of a sweep from its workdir alone (no training).

    python -m figures.make --workdir=runs/threshold_quick
    python -m figures.make --workdir=DIR --only=loss_vs_n,p_of_n --formats=png

Reads config.json, summary.csv, threshold.json, trajectories.nc and (for neuron directions) the
chunk files, and writes DIR/figures/NAME.{png,pdf} (plus NAME.gif animations) and
DIR/figures/index.md, which lists every figure with its caption and every figure that the data
could not support, with the reason. The main job (``python -m sweeps.run``) calls this at the end.

Figures (each only where the data supports it):
  loss_vs_n_SWEEP      train and test MSE against n: per-seed points, medians, OLS, sigma^2, n*
  p_of_n_SWEEP         p(n) = P(interpolating) with the logistic fit and n*'s interval
  nstar_vs_d           n* against d (log-log) with the fitted power law, when d was swept
  directions_SWEEP_rRUN_polar   neurons over time, polar picture (2-D neuron vectors) + GIF
  directions_SWEEP_rRUN_cos     distribution of cos(u_j, beta_hat) against time
  loss_vs_time_SWEEP   loss against time (log-log) with alignment and escape times
  phase_n_lam_SWEEP, phase_n_lr_SWEEP   interpolation probability over n x lambda (n x eta)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from absl import app, flags, logging

from alignment import plotting, results, threshold
from alignment.sweep import GROUP_AXES, group_keys

MSE_FLOOR = 1e-4  # train MSE below this x sigma^2 is drawn at the floor (a 'v' marker)
POLAR_PANELS = 6  # snapshots shown in the polar picture
GIF_FRAMES = 60  # most frames of an animation
COS_BINS = 41  # bins of cos(u_j, beta_hat) in [-1, 1]


@dataclasses.dataclass
class Stored:
    """What a workdir holds, loaded once."""

    workdir: Path
    config: dict
    summary: pd.DataFrame
    report: dict
    traj: xr.Dataset
    keys: np.ndarray  # group key per summary row (aligned with report["groups"])

    def groups(self, sweep: str) -> list[tuple[dict, pd.DataFrame]]:
        """(threshold report group, its summary rows) for every group of a sub-sweep."""
        out = []
        for g, key in zip(self.report["groups"], dict.fromkeys(self.keys), strict=True):
            if g["sweep"] == sweep:
                out.append((g, self.summary[self.keys == key]))
        return out

    def sweeps(self) -> list[str]:
        return list(dict.fromkeys(self.summary["sweep"].astype(str)))


def load(workdir) -> Stored:
    """Loads a finished sweep's outputs (summary.csv, threshold.json, trajectories.nc)."""
    workdir = Path(workdir)
    for name in (results.CONFIG, results.SUMMARY, results.THRESHOLD, results.TRAJECTORIES):
        if not (workdir / name).exists():
            raise FileNotFoundError(
                f"{workdir / name} is missing: figures are made from a finished sweep "
                "(run python -m sweeps.run, or sweeps.merge for a split job, first)"
            )
    config = json.loads((workdir / results.CONFIG).read_text())
    summary = results.read_csv(workdir / results.SUMMARY)
    summary["sweep"] = summary["sweep"].astype(str)
    report = json.loads((workdir / results.THRESHOLD).read_text())
    with xr.open_dataset(workdir / results.TRAJECTORIES, engine="netcdf4") as ds:
        traj = ds.load()
    return Stored(workdir, config, summary, report, traj, group_keys(summary))


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def _label(g: dict, varying: list[str]) -> str:
    names = {"lam": "λ", "lr": "η", "sigma": "σ"}

    def fmt(v):
        return f"{v:g}" if isinstance(v, int | float) and not isinstance(v, bool) else str(v)

    return ", ".join(f"{names.get(k, k)}={fmt(g[k])}" for k in varying) or "all runs"


def _varying(groups: list[dict]) -> list[str]:
    """The group axes that take more than one value among ``groups``."""
    return [k for k in GROUP_AXES if k != "sweep" and len({str(g[k]) for g in groups}) > 1]


def _nstar_text(g: dict) -> str:
    if g.get("n_star") is None:
        return "n* not resolved"
    lo = "?" if g["ci_low"] is None else f"{g['ci_low']:.3g}"
    hi = "?" if g["ci_high"] is None else f"{g['ci_high']:.3g}"
    return f"n* = {g['n_star']:.3g} [{lo}, {hi}]"


def _mark_nstar(ax, g: dict, color: str = "0.3", label: bool = True) -> None:
    if g.get("n_star") is None:
        return
    lo = g["ci_low"] if g["ci_low"] is not None else ax.get_xlim()[0]
    hi = g["ci_high"] if g["ci_high"] is not None else ax.get_xlim()[1]
    text = f"n* ({100 * g['ci_level']:.0f}% CI)" if label else None
    plotting.band(ax, lo, hi, label=text, color=color)
    ax.axvline(g["n_star"], color=color, lw=1.0, ls="-")


def wilson(k: np.ndarray, m: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion k/m (NaN where m = 0)."""
    k, m = np.asarray(k, float), np.asarray(m, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        denom = 1 + z**2 / m
        centre = (p + z**2 / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / denom
    return centre - half, centre + half


def _neuron_run_ids(workdir) -> set[int]:
    ids: set[int] = set()
    for index in results.finished_chunks(workdir):
        with xr.open_dataset(results.chunk_path(workdir, index), engine="netcdf4") as ds:
            if "neuron_run" in ds.coords:
                ids |= {int(i) for i in ds["neuron_run"].values}
    return ids


def pick_runs(st: Stored, sweep: str, among: set[int] | None = None) -> list[int]:
    """Up to two runs of a sub-sweep to show over time: the first seed at the largest n below
    n* and the smallest above (without n*: the smallest and largest n); one if a single n."""
    rows = st.summary[st.summary["sweep"] == sweep]
    if among is not None:
        rows = rows[rows["run"].isin(among)]
    if rows.empty:
        return []
    groups = st.groups(sweep)
    first_group = groups[0][0]
    rows = rows[st.keys[rows.index] == st.keys[groups[0][1].index[0]]]
    rows = rows[rows["seed"] == rows["seed"].min()]
    n_values = np.sort(rows["n"].unique())
    if len(n_values) == 1:
        chosen = list(n_values)
    elif first_group.get("n_star") is not None:
        below, above = (
            n_values[n_values < first_group["n_star"]],
            n_values[n_values > first_group["n_star"]],
        )
        chosen = ([below[-1]] if below.size else []) + ([above[0]] if above.size else [])
    else:
        chosen = [n_values[0], n_values[-1]]
    return [int(rows[rows["n"] == n]["run"].iloc[0]) for n in chosen]


def _series(st: Stored, run_id: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(time, values) of one run's snapshot variable, real snapshots only."""
    one = st.traj.sel(run=run_id)
    t = np.asarray(one["time"].values, np.float64)
    v = np.asarray(one[name].values, np.float64)
    keep = np.isfinite(t)
    return t[keep], v[keep]


def _run_value(st: Stored, run_id: int, name: str):
    row = st.summary[st.summary["run"] == run_id]
    return row[name].iloc[0] if name in row else None


def _event_lines(ax, st: Stored, run_id: int, horizontal: bool = False) -> None:
    styles = {"alignment_time": ("--", "alignment"), "escape_time": (":", "escape")}
    for key, (ls, text) in styles.items():
        t = _run_value(st, run_id, key)
        if t is not None and np.isfinite(t) and t > 0:
            (ax.axhline if horizontal else ax.axvline)(t, color="k", ls=ls, lw=0.9, label=text)


# ----------------------------------------------------------------------------------------------
# figures: each returns (written paths, captions by figure name, skipped: name -> reason)
# ----------------------------------------------------------------------------------------------


Made = tuple[list[Path], dict[str, str], dict[str, str]]


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
        varying = _varying([g for g, _ in groups])
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
                label = "median" if len(groups) == 1 else _label(g, varying)
                ax.plot(med.index, np.maximum(med.to_numpy(), floor), "-o", color=color, ms=3,
                        label=label)  # fmt: skip
                ols = rows.assign(o=2 * rows[ols_col]).groupby("n")["o"].median()
                ax.plot(ols.index, ols.to_numpy(), "--", color=color, lw=1.0,
                        label="OLS (median)" if i == 0 else None)  # fmt: skip
                if sigma2 > 0 and i == 0:
                    ax.axhline(sigma2, color="0.4", ls=":", lw=1.0, label="σ² (noise)")
                if len(groups) == 1:
                    _mark_nstar(ax, g)
            ax.set_xscale("log")
            ax.set_yscale("log")
            plotting.log_ticks_n(ax)
            ax.set_xlabel("training samples n")
            ax.set_ylabel(f"{title} MSE  (2L)")
            ax.set_title(f"{title} error")
        axes[0, 0].legend(loc="best")
        if len(groups) == 1:
            fig.suptitle(f"{sweep}: {_nstar_text(groups[0][0])}", fontsize=9)
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
        varying = _varying([g for g, _ in groups])
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
            label = _label(g, varying) if varying else "p(n) (95% Wilson)"
            ax.errorbar(n, p, yerr=[p - lo, hi - p], fmt="o", color=color, ms=4, capsize=2,
                        label=label)  # fmt: skip
            if g["n_star"] is not None:
                grid_n = np.geomspace(n.min(), n.max(), 300)
                slope = np.inf if g["slope"] is None else g["slope"]
                ax.plot(grid_n, threshold.predict_p(grid_n, g["n_star"], slope), "-",
                        color=color, lw=1.2, label="logistic fit" if i == 0 else None)  # fmt: skip
                _mark_nstar(ax, g, color=color if len(groups) > 1 else "0.3", label=i == 0)
        ax.axhline(0.5, color="0.5", lw=0.6, ls=":")
        ax.set_xscale("log")
        plotting.log_ticks_n(ax)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("training samples n")
        ax.set_ylabel("p(n) = P(interpolating)")
        title = sweep if len(groups) > 1 else f"{sweep}: {_nstar_text(groups[0][0])}"
        ax.set_title(title)
        ax.legend(loc="best")
        paths += plotting.save(fig, out, name, formats)
        captions[name] = (
            "Fraction of determined runs that interpolate at each n (95% Wilson intervals), the "
            "logistic fit in log n, and n* where it crosses 1/2 with its bootstrap interval "
            "(undetermined runs are left out of p)."
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
        setting = _label(fit, varying)
        ax.errorbar(d, ns, yerr=yerr, fmt="o", color=color, capsize=2,
                    label=f"n* (95% CI){', ' + setting if varying else ''}")  # fmt: skip
        dd = np.geomspace(d.min() / 1.2, d.max() * 1.2, 50)
        ax.plot(dd, fit["prefactor"] * dd ** fit["k"], "-", color=color,
                label=f"fit n* ∝ d^k: k = {fit['k']:.2f} [{fit['k_ci_low']:.2f}, "
                f"{fit['k_ci_high']:.2f}]")  # fmt: skip
        all_d |= set(d.tolist())
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
        "law n* ∝ d^k with the interval of k."
    )
    return paths, {name: caption}, {}


def _directions_2d(st: Stored, run_id: int, nd: xr.Dataset, out: Path, name: str, formats):
    """Polar picture: angle of (w_j, b_j) against its norm (relative to the largest)."""
    t = np.asarray(nd["time"].values, np.float64)
    keep = np.flatnonzero(np.isfinite(t))
    w = np.asarray(nd["neuron_w"].values, np.float64)[keep]
    a = np.asarray(nd["neuron_a"].values, np.float64)[keep]
    t = t[keep]
    pos = t > 0
    picks = [0] + list(
        np.unique(np.searchsorted(t, np.geomspace(t[pos].min(), t[-1], POLAR_PANELS - 1)))
    )
    picks = [min(k, len(t) - 1) for k in picks]
    ext = _extremal(st, run_id)
    ncols = 3
    nrows = -(-len(picks) // ncols)
    fig, axes = plotting.subplots(ncols, nrows, width=plotting.PAGE_WIDTH * 0.85, aspect=1.1,
                                  subplot_kw={"projection": "polar"})  # fmt: skip
    flat = axes.ravel()
    for ax, k in zip(flat, picks, strict=False):
        _polar_frame(ax, w[k], a[k], ext, t[k])
    for ax in flat[len(picks) :]:
        ax.set_visible(False)
    bias = bool(_run_value(st, run_id, "bias"))
    coords = "(w_j, b_j)" if bias else "(w_j1, w_j2)"
    n, verdict = _run_value(st, run_id, "n"), _run_value(st, run_id, "verdict")
    fig.suptitle(
        f"n = {n}, seed {_run_value(st, run_id, 'seed')} ({verdict}): angle of {coords}; "
        "radius ‖θ_j‖ / max_j ‖θ_j‖; red a_j > 0, blue a_j < 0",
        fontsize=8,
    )
    paths = plotting.save(fig, out, name, formats)
    paths.append(_gif(w, a, t, ext, out / f"{name}.gif"))
    return paths


def _extremal(st: Stored, run_id: int):
    if "extremal_u" not in st.traj:
        return None
    one = st.traj.sel(run=run_id)
    valid = np.asarray(one["extremal_valid"].values) == 1
    u = np.asarray(one["extremal_u"].values, np.float64)[valid]
    u = u[:, ~np.isnan(u).all(axis=0)]  # drop coordinates padded for other sub-sweeps' d
    is_max = np.asarray(one["extremal_is_max"].values)[valid] == 1
    ok = np.all(np.isfinite(u), axis=1)
    return u[ok], is_max[ok]


def _polar_frame(ax, w_MxD, a_M, ext, t) -> None:
    ax.clear()
    norm = np.linalg.norm(w_MxD, axis=1)
    angle = np.arctan2(w_MxD[:, 1], w_MxD[:, 0])
    r = norm / max(norm.max(), 1e-300)
    for sign, color in plotting.SIGN_COLORS.items():
        sel = np.sign(a_M) == sign
        ax.scatter(angle[sel], r[sel], s=8, color=color, alpha=0.7, lw=0)
    if ext is not None:
        u, is_max = ext
        for vec, mx in zip(u, is_max, strict=True):
            th = np.arctan2(vec[1], vec[0])
            ax.plot(
                [th, th], [0, 1.05], ls="--", lw=0.8, color=plotting.SIGN_COLORS[1 if mx else -1]
            )
    ax.set_ylim(0, 1.08)
    ax.set_yticklabels([])
    ax.set_xticks(np.deg2rad([0, 90, 180, 270]))
    ax.tick_params(labelsize=6)
    ax.set_title(f"t = {t:.3g},  max‖θ_j‖ = {norm.max():.1e}", fontsize=7)


def _gif(w, a, t, ext, path: Path) -> Path:
    """An animated GIF of the polar picture over every snapshot (at most GIF_FRAMES)."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    frames = np.unique(np.linspace(0, len(t) - 1, min(GIF_FRAMES, len(t))).astype(int))
    fig, axes = plotting.subplots(1, width=3.2, aspect=1.0, subplot_kw={"projection": "polar"})
    ax = axes[0, 0]
    anim = FuncAnimation(fig, lambda k: _polar_frame(ax, w[k], a[k], ext, t[k]), frames=frames)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    anim.save(tmp, writer=PillowWriter(fps=8), dpi=90)
    os.replace(tmp, path)
    return path


def _cos_heatmap(st: Stored, run_id: int, nd: xr.Dataset, out: Path, name: str, formats):
    """Distribution of cos(u_j, beta_hat) over active neurons against time."""
    t = np.asarray(nd["time"].values, np.float64)
    if "neuron_cos_ols" in nd:
        cos = np.asarray(nd["neuron_cos_ols"].values, np.float64)
    else:
        w = np.asarray(nd["neuron_w"].values, np.float64)
        bhat = np.asarray(st.traj["beta_hat"].sel(run=run_id).values, np.float64)
        bhat = bhat[np.isfinite(bhat)][: w.shape[-1]]
        u = w / np.maximum(np.linalg.norm(w, axis=-1, keepdims=True), 1e-300)
        cos = u @ (bhat / np.linalg.norm(bhat))
    keep = np.isfinite(t) & (t > 0)
    t, cos = t[keep], cos[keep]
    edges_c = np.linspace(-1, 1, COS_BINS + 1)
    hist = np.stack([np.histogram(c[np.isfinite(c)], edges_c)[0] for c in cos]).astype(float)
    hist /= np.maximum(hist.sum(axis=1, keepdims=True), 1)
    log_t = np.log(t)
    mids = 0.5 * (log_t[1:] + log_t[:-1])
    edges_t = np.exp(np.concatenate([[2 * log_t[0] - mids[0]], mids, [2 * log_t[-1] - mids[-1]]]))
    fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.5, aspect=0.6)
    ax = axes[0, 0]
    mesh = ax.pcolormesh(edges_t, edges_c, hist.T, shading="flat", cmap="magma_r")
    fig.colorbar(mesh, ax=ax, label="fraction of active neurons")
    _event_lines(ax, st, run_id)
    ax.set_xscale("log")
    ax.set_xlabel("time t = η · steps")
    ax.set_ylabel("cos(u_j, β̂)")
    n, verdict = _run_value(st, run_id, "n"), _run_value(st, run_id, "verdict")
    ax.set_title(f"n = {n}, seed {_run_value(st, run_id, 'seed')}: {verdict}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left")
    return plotting.save(fig, out, name, formats)


def fig_directions(st: Stored, out: Path, formats) -> Made:
    paths, captions, skipped = [], {}, {}
    with_neurons = _neuron_run_ids(st.workdir)
    for sweep in st.sweeps():
        runs = pick_runs(st, sweep, with_neurons)
        if not runs:
            skipped[f"directions_{sweep}"] = (
                "no per-neuron arrays stored (m > store_neurons_max or neuron_seeds = 0)"
            )
            continue
        for run_id in runs:
            name = f"directions_{sweep}_r{run_id}"
            nd = results.load_neurons(st.workdir, run_id)
            d_in = nd["neuron_w"].shape[-1]
            if d_in == 2:
                paths += _directions_2d(st, run_id, nd, out, f"{name}_polar", formats)
                captions[f"{name}_polar"] = (
                    "Neurons in the plane of (w_j, b_j) (1-D inputs with bias) or (w_j1, w_j2) "
                    "(2-D inputs): angle against norm relative to the largest, red a_j > 0, "
                    "blue a_j < 0, at log-spaced times, with the extremal vectors of G_n "
                    "(dashed; red: maxima, blue: minima). The .gif animates every snapshot."
                )
            paths += _cos_heatmap(st, run_id, nd, out, f"{name}_cos", formats)
            captions[f"{name}_cos"] = (
                "Distribution over active neurons of the cosine between each neuron's "
                "direction u_j (with bias: (w_j, b_j)) and the least-squares direction β̂, "
                "against time: early alignment concentrates it at ±1 for large n. Vertical "
                "lines: alignment and escape times."
            )
    return paths, captions, skipped


def fig_loss_vs_time(st: Stored, out: Path, formats) -> Made:
    paths, captions, skipped = [], {}, {}
    for sweep in st.sweeps():
        name = f"loss_vs_time_{sweep}"
        runs = pick_runs(st, sweep)
        fig, axes = plotting.subplots(len(runs), width=min(plotting.PAGE_WIDTH, 3.5 * len(runs)),
                                      aspect=0.8)  # fmt: skip
        for ax, run_id in zip(axes[0], runs, strict=True):
            t, loss = _series(st, run_id, "loss")
            _, test = _series(st, run_id, "test_loss")
            pos = t > 0
            ax.plot(t[pos], loss[pos], "-", color="k", label="train loss L")
            ax.plot(t[pos], test[pos], "-", color="0.6", label="test loss")
            ols = _run_value(st, run_id, "ols_train_loss")
            if ols is not None and np.isfinite(ols) and ols > 0:
                ax.axhline(ols, color="C3", ls="--", lw=0.9, label="OLS train loss")
            _event_lines(ax, st, run_id)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("time t = η · steps")
            ax.set_ylabel("loss (1/2n) Σ (h − y)²")
            n, verdict = _run_value(st, run_id, "n"), _run_value(st, run_id, "verdict")
            ax.set_title(f"n = {n}, seed {_run_value(st, run_id, 'seed')}: {verdict}")
        axes[0, 0].legend(loc="lower left")
        paths += plotting.save(fig, out, name, formats)
        captions[name] = (
            "Train and test loss against time (log-log) for one seed below and one above n*: "
            "the plateau of early alignment, the drop once neurons escape, and the end state. "
            "Dashed vertical: alignment time (90% of the active mass within ε of an extremal "
            "vector); dotted: escape time (largest neuron norm 10x its initial value)."
        )
    return paths, captions, skipped


def _p_grid(rows, axis: str, values, n_values) -> np.ndarray:
    """p(n, axis value) over determined runs (NaN where none is determined)."""
    interp, det = threshold.outcomes(rows["verdict"].to_numpy())
    p = np.full((len(values), len(n_values)), np.nan)
    for i, v in enumerate(values):
        for j, n in enumerate(n_values):
            sel = (rows[axis].to_numpy() == v) & (rows["n"].to_numpy() == n)
            if det[sel].any():
                p[i, j] = interp[sel].sum() / det[sel].sum()
    return p


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
            others = [k for k in _varying([g for g, _ in groups]) if k != axis]
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
                found = [
                    g for g, _ in groups
                    if g["n_star"] is not None
                    and tuple(str(g[k]) for k in others) == panel
                ]  # fmt: skip
                if found:
                    ns = np.array([g["n_star"] for g in found], float)
                    gv = np.array([g[axis] for g in found], float)
                    lo = np.array([np.nan if g["ci_low"] is None else g["ci_low"] for g in found])
                    hi = np.array([np.nan if g["ci_high"] is None else g["ci_high"] for g in found])
                    xerr = [
                        np.nan_to_num(ns - lo.astype(float)),
                        np.nan_to_num(hi.astype(float) - ns),
                    ]
                    ax.errorbar(ns, gv, xerr=xerr, fmt="o", color="k", ms=3, capsize=2,
                                label="n* (95% CI)")  # fmt: skip
                    ax.legend(loc="best")
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


FIGURES: dict[str, Callable[[Stored, Path, tuple], Made]] = {
    "loss_vs_n": fig_loss_vs_n,
    "p_of_n": fig_p_of_n,
    "nstar_vs_d": fig_nstar_vs_d,
    "directions": fig_directions,
    "loss_vs_time": fig_loss_vs_time,
    "phase": fig_phase,
}


def make_all(workdir, only=None, formats=plotting.FORMATS) -> list[Path]:
    """Writes every figure the stored results support into WORKDIR/figures; returns the paths.

    ``only``: names from :data:`FIGURES` (default: all). Figures the data cannot support are
    skipped with a log line and listed in figures/index.md with the reason.
    """
    st = load(workdir)
    out = Path(workdir) / results.FIGURES
    out.mkdir(parents=True, exist_ok=True)
    names = list(FIGURES) if only is None else list(only)
    unknown = sorted(set(names) - set(FIGURES))
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; known: {', '.join(FIGURES)}")
    paths, captions, skipped = [], {}, {}
    with plotting.style():
        for name in names:
            p, c, s = FIGURES[name](st, out, tuple(formats))
            paths += p
            captions |= c
            skipped |= s
    for name, why in skipped.items():
        logging.info("figure %s skipped: %s", name, why)
    results.write_text(out / "index.md", _index(st, captions, skipped))
    logging.info("%d figure files in %s", len(paths), out)
    return paths


def _index(st: Stored, captions: dict[str, str], skipped: dict[str, str]) -> str:
    lines = [f"# Figures of `{st.config.get('name', st.workdir.name)}`", ""]
    lines += [f"- **{name}**: {text}" for name, text in captions.items()]
    if skipped:
        lines += ["", "Not made (the data cannot support them):", ""]
        lines += [f"- {name}: {why}" for name, why in skipped.items()]
    return "\n".join(lines) + "\n"


FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags (defined only when run as a command: importing stays flag-free)."""
    flags.DEFINE_string("workdir", None, "A finished sweep's output folder.", required=True)
    flags.DEFINE_list("only", None, f"Figures to make (default all): {', '.join(FIGURES)}.")
    flags.DEFINE_list("formats", list(plotting.FORMATS), "Image formats (png, pdf, svg).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    for path in make_all(FLAGS.workdir, FLAGS.only, FLAGS.formats):
        print(path)


if __name__ == "__main__":
    define_flags()
    app.run(main)
