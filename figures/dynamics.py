"""Dynamics figures: neuron directions (polar pictures, GIFs, cosine heatmaps), loss vs time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from alignment.runner import results
from figures import style as plotting
from figures.load import (
    COS_BINS,
    GIF_FRAMES,
    POLAR_PANELS,
    Made,
    Stored,
    event_lines,
    neuron_run_ids,
    pick_runs,
    run_series,
    run_value,
)


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
    fig, axes = plotting.subplots(
        ncols,
        nrows,
        width=plotting.PAGE_WIDTH * 0.85,
        aspect=1.1,
        subplot_kw={"projection": "polar"},
    )
    flat = axes.ravel()
    for ax, k in zip(flat, picks, strict=False):
        _polar_frame(ax, w[k], a[k], ext, t[k])
    for ax in flat[len(picks) :]:
        ax.set_visible(False)
    bias = bool(run_value(st, run_id, "bias"))
    coords = "(w_j, b_j)" if bias else "(w_j1, w_j2)"
    n, verdict = run_value(st, run_id, "n"), run_value(st, run_id, "verdict")
    fig.suptitle(
        f"n = {n}, seed {run_value(st, run_id, 'seed')} ({verdict}): angle of {coords}; "
        "radius ‖θ_j‖ / max_j ‖θ_j‖; red a_j > 0, blue a_j < 0",
        fontsize=8,
    )
    paths = plotting.save(fig, out, name, formats)
    paths.append(write_gif(w, a, t, ext, out / f"{name}.gif"))
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


def write_gif(w, a, t, ext, path: Path) -> Path:
    """An animated GIF of the polar picture over every snapshot (at most GIF_FRAMES)."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    frames = np.unique(np.linspace(0, len(t) - 1, min(GIF_FRAMES, len(t))).astype(int))
    fig, axes = plotting.subplots(1, width=3.2, aspect=1.0, subplot_kw={"projection": "polar"})
    ax = axes[0, 0]
    anim = FuncAnimation(fig, lambda k: _polar_frame(ax, w[k], a[k], ext, t[k]), frames=frames)
    with results.atomic_path(path) as tmp:  # no partial .gif or temporary file on failure
        anim.save(tmp, writer=PillowWriter(fps=8), dpi=90)
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
    # rasterized: a PDF of thousands of vector cells is slow to write and to open
    mesh = ax.pcolormesh(edges_t, edges_c, hist.T, shading="flat", cmap="magma_r", rasterized=True)
    fig.colorbar(mesh, ax=ax, label="fraction of active neurons")
    event_lines(ax, st, run_id)
    ax.set_xscale("log")
    ax.set_xlabel("time t = η · steps")
    ax.set_ylabel("cos(u_j, β̂)")
    n, verdict = run_value(st, run_id, "n"), run_value(st, run_id, "verdict")
    ax.set_title(f"n = {n}, seed {run_value(st, run_id, 'seed')}: {verdict}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower left")
    return plotting.save(fig, out, name, formats)


def fig_directions(st: Stored, out: Path, formats) -> Made:
    paths, captions, skipped = [], {}, {}
    with_neurons = neuron_run_ids(st.workdir)
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
                "lines: alignment and escape times, where the run reached them."
            )
    return paths, captions, skipped


def fig_loss_vs_time(st: Stored, out: Path, formats) -> Made:
    paths, captions, skipped = [], {}, {}
    for sweep in st.sweeps():
        name = f"loss_vs_time_{sweep}"
        runs = pick_runs(st, sweep)
        fig, axes = plotting.subplots(
            len(runs), width=min(plotting.PAGE_WIDTH, 3.5 * len(runs)), aspect=0.8
        )
        for ax, run_id in zip(axes[0], runs, strict=True):
            t, loss = run_series(st, run_id, "loss")
            _, test = run_series(st, run_id, "test_loss")
            pos = t > 0
            ax.plot(t[pos], loss[pos], "-", color="k", label="train loss L")
            ax.plot(t[pos], test[pos], "-", color="0.6", label="test loss")
            ols = run_value(st, run_id, "ols_train_loss")
            if ols is not None and np.isfinite(ols) and ols > 0:
                ax.axhline(ols, color="C3", ls="--", lw=0.9, label="OLS train loss")
            event_lines(ax, st, run_id)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("time t = η · steps")
            ax.set_ylabel("loss (1/2n) Σ (h − y)²")
            n, verdict = run_value(st, run_id, "n"), run_value(st, run_id, "verdict")
            ax.set_title(f"n = {n}, seed {run_value(st, run_id, 'seed')}: {verdict}")
        axes[0, 0].legend(loc="lower left")
        paths += plotting.save(fig, out, name, formats)
        captions[name] = (
            "Train and test loss against time (log-log) for one seed below and one above n*: "
            "the plateau of early alignment, the drop once neurons escape, and the end state. "
            "Dashed vertical: alignment time (90% of the active mass within ε of an extremal "
            "vector); dotted: escape time (largest neuron norm 10x its initial value); each "
            "drawn only where the run reached it (the legend names the lines drawn)."
        )
    return paths, captions, skipped
