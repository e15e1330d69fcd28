"""Figures of the classifier job (DESIGN.md section 4; Ciceri et al. Figs 1c,d and 2a,c,d), from
a finished workdir alone: config.json, summary.csv, classifier.json and trajectories.nc.

One figure per (optimizer, lr, scale) group ("G" below) where the data support it:

  cls_radius_vs_error_G  R_0, R_1 and D against the training error (base runs, subset 0),
                         the inversion (paper rule) marked on every run
  cls_dynamics_G         errors, radii and |(W, b)| against the step, t_inv and the end of
                         early alignment marked (the small-init question)
  cls_stability          eps_inv and t_inv of every base run, relative to their mean, per group
                         and subset (claim i: which one varies less)
  cls_removal_G          mean radius against the step, base / without stragglers / without as
                         many random points; their final test errors, clean and noisy
  cls_overlap_G_sS       overlap z-score (median over seed pairs) and Jaccard against the
                         training error, eps_inv marked
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib.ticker
import numpy as np
import pandas as pd
import xarray as xr

from figures import style as plotting
from figures.load import Made, add_figure, named_lines, read_job, series_color

CLAIMS = "classifier.json"
PHASES = ("base", "no_stragglers", "random")
PHASE_LABELS = {
    "base": "all points",
    "no_stragglers": "stragglers removed",
    "random": "as many random points removed",
}


@dataclasses.dataclass
class ClsStored:
    workdir: Path
    config: dict
    summary: pd.DataFrame
    claims: dict
    traj: xr.Dataset

    def groups(self):
        """(tag, title, row mask) of each (optimizer, lr, scale)."""
        t = self.traj
        keys = zip(
            t["optimizer"].values.astype(str), t["lr"].values, t["scale"].values, strict=True
        )
        for opt, lr, scale in dict.fromkeys(keys):
            rows = (
                (t["optimizer"].values == opt)
                & (t["lr"].values == lr)
                & (t["scale"].values == scale)
            )
            yield f"{opt}_lr{lr:g}_s{scale:g}", f"{opt}, lr {lr:g}, init scale {scale:g}", rows

    def phase(self, rows, phase: str):
        return rows & (self.traj["phase"].values == phase)

    def col(self, name: str, rows) -> np.ndarray:
        return self.summary[name].values[rows]


VERTICALS = {
    "t_inv_robust": "solid verticals: t_inv (robust rule)",
    "t_align_end": "dotted verticals: the end of early alignment (loss below (1 - align_drop) x "
    "its initial value)",
}


def load(workdir) -> ClsStored:
    config, summary, claims, traj = read_job(workdir, CLAIMS, "classifier")
    summary = summary.set_index("run").loc[traj["run"].values].reset_index()  # traj's order
    return ClsStored(Path(workdir), config, summary, claims, traj)


def _index_at(st: ClsStored, step) -> int | None:
    if not np.isfinite(step):
        return None
    return int(np.flatnonzero(st.traj["step_index"].values == step)[0])


def fig_radius_vs_error(st: ClsStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    for tag, title, rows in st.groups():
        sel = np.flatnonzero(st.phase(rows, "base") & (st.traj["subset"].values == 0))
        fig, axes = plotting.subplots(3, aspect=1.0)
        for j, r in enumerate(sel):
            err = st.traj["train_error"].values[r]
            k = _index_at(st, st.summary["t_inv_paper"].values[r])
            for ax, key in zip(axes[0], ("R_0", "R_1", "D"), strict=True):
                y = st.traj[key].values[r]
                ax.plot(err, y, color=series_color(j), lw=0.8, alpha=0.8)
                if k is not None:
                    ax.plot(err[k], y[k], "o", ms=3.5, color=series_color(j), mec="k", mew=0.5)
        for ax, lab in zip(
            axes[0], ("R_0 (class 0: even)", "R_1 (class 1: odd)", "D"), strict=True
        ):
            ax.set_xscale("log")
            plotting.log_ticks_n(ax)
            ax.invert_xaxis()
            ax.set_xlabel("training error (training runs right)")
            ax.set_ylabel(lab)
        fig.suptitle(f"{title}: class manifolds of the hidden layer ({len(sel)} inits)")
        add_figure(
            fig,
            out,
            f"cls_radius_vs_error_{tag}",
            formats,
            f"{title}: class radii R_0, R_1 and centre distance D of the normalized hidden "
            "representations against the training error, one line per init (subset 0); "
            "dots: the inversion by the paper's rule (paper Fig 1c,d)",
            made,
        )
    return made


def fig_dynamics(st: ClsStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    step = st.traj["step_index"].values
    for tag, title, rows in st.groups():
        sel = np.flatnonzero(st.phase(rows, "base") & (st.traj["subset"].values == 0))
        fig, axes = plotting.subplots(3, aspect=0.9)
        drawn = set()  # which kinds of vertical line some run has
        for j, r in enumerate(sel):
            c = series_color(j)
            axes[0, 0].plot(step, st.traj["train_error"].values[r], color=c, lw=0.8)
            axes[0, 0].plot(step, st.traj["test_error"].values[r], color=c, lw=0.8, ls="--")
            mean_r = 0.5 * (st.traj["R_0"].values[r] + st.traj["R_1"].values[r])
            axes[0, 1].plot(step, mean_r, color=c, lw=0.8)
            axes[0, 2].plot(step, st.traj["w_norm"].values[r], color=c, lw=0.8)
            for ax in axes[0]:
                for key, ls in (("t_inv_robust", "-"), ("t_align_end", ":")):
                    t = st.summary[key].values[r]
                    if np.isfinite(t):
                        ax.axvline(t, color=c, ls=ls, lw=0.7, alpha=0.7)
                        drawn.add(key)
        for ax, lab in zip(
            axes[0], ("error (train solid, test dashed)", "mean radius", "|(W, b)|"), strict=True
        ):
            ax.set_xlabel("step")
            ax.set_ylabel(lab)
            ax.set_xscale("symlog", linthresh=10)
            ax.set_xlim(0, step[-1])
        axes[0, 2].set_yscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
        axes[0, 2].yaxis.set_major_formatter(plain)  # a norm within a decade: plain numbers
        axes[0, 2].yaxis.set_minor_formatter(plain)
        lines = named_lines(VERTICALS, drawn)
        fig.suptitle(title)
        add_figure(
            fig,
            out,
            f"cls_dynamics_{tag}",
            formats,
            f"{title}: errors, mean class radius and hidden-layer norm against the step per "
            f"init (subset 0){'; ' + lines if lines else ''}",
            made,
        )
    return made


def fig_stability(st: ClsStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    fig, axes = plotting.subplots(2, width=plotting.PAGE_WIDTH, aspect=0.6)
    labels = []
    for g, (tag, _, rows) in enumerate(st.groups()):
        base = st.phase(rows, "base")
        for ax, key in zip(axes[0], ("eps_inv_paper", "t_inv_paper"), strict=True):
            v = st.col(key, base)
            sub = st.traj["subset"].values[base]
            rel = v / np.nanmean(v)
            jitter = 0.08 * (sub - sub.mean()) / max(sub.std(), 1)
            ax.plot(g + jitter, rel, "o", ms=3, color=series_color(g), alpha=0.7)
            cv = np.nanstd(v, ddof=1) / np.nanmean(v) if np.isfinite(v).sum() > 1 else np.nan
            ax.text(
                g,
                np.nanmax(rel) * 1.02 if np.isfinite(rel).any() else 1,
                f"CV {cv:.3f}",
                ha="center",
                va="bottom",
                fontsize="small",
            )
        labels.append(tag.replace("_", "\n"))
    for ax, lab in zip(axes[0], ("ε_inv / mean", "t_inv / mean"), strict=True):
        ax.set_xticks(range(len(labels)), labels, fontsize="small")
        ax.axhline(1, color="0.5", lw=0.8)
        ax.set_ylabel(lab)
    fig.suptitle("training error and step at inversion (paper rule), every base run")
    add_figure(
        fig,
        out,
        "cls_stability",
        formats,
        "eps_inv and t_inv of every base run divided by their group's mean, all subsets "
        "(spread within a column); the coefficient of variation above (claim i: eps_inv "
        "varies less than t_inv)",
        made,
    )
    return made


def fig_removal(st: ClsStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    step = st.traj["step_index"].values
    for tag, title, rows in st.groups():
        if not st.phase(rows, "no_stragglers").any():
            made[2][f"cls_removal_{tag}"] = "no removal runs (config removal=False)"
            continue
        fig, axes = plotting.subplots(2, aspect=0.8)
        for j, phase in enumerate(PHASES):
            sel = st.phase(rows, phase)
            r0 = st.traj["R_0"].values[sel]
            c = series_color(j)
            axes[0, 0].plot(step, np.median(r0, axis=0), color=c, label=PHASE_LABELS[phase])
            axes[0, 0].fill_between(
                step, *np.percentile(r0, [25, 75], axis=0), color=c, alpha=0.2, lw=0
            )
            for k, key in enumerate(("final_test_error", "final_noisy_test_error")):
                v = st.col(key, sel)
                x = 3 * k + j
                axes[0, 1].plot(np.full(len(v), x), v, "o", ms=3, color=series_color(j), alpha=0.6)
                axes[0, 1].plot([x - 0.3, x + 0.3], [np.mean(v)] * 2, color="k", lw=1.2)
        axes[0, 0].set_xlabel("step")
        axes[0, 0].set_ylabel("R_0 (median, IQR)")
        axes[0, 0].legend(fontsize="small")
        axes[0, 1].set_xticks([1, 4], ["test", "noisy test"])
        axes[0, 1].set_ylabel("final error (bar: mean)")
        fig.suptitle(f"{title}: retrained from the same inits")
        add_figure(
            fig,
            out,
            f"cls_removal_{tag}",
            formats,
            f"{title}: (left) class-0 radius against the step for the base runs, the runs "
            "retrained without their stragglers and without as many random points (paper "
            "Fig 2a); (right) their final test errors, clean and with Gaussian pixel noise "
            "(paper Fig 2c)",
            made,
        )
    return made


def fig_overlap(st: ClsStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    for c in st.claims["claims"]["iv_overlap_peaks_at_eps_inv"]["curves"]:
        tag = f"{c['optimizer']}_lr{c['lr']:g}_s{c['scale']:g}_s{c['subset']}"
        fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.4)
        ax = axes[0, 0]
        err = np.asarray(c["train_error"], float)
        ax.plot(err, np.asarray(c["z_median"], float), "o-", ms=3, color=series_color(0), label="z")
        twin = ax.twinx()
        twin.plot(
            err,
            np.asarray(c["jaccard_median"], float),
            "s--",
            ms=2.5,
            color=series_color(1),
            label="Jaccard",
        )
        if c["eps_inv_mean"] is not None:
            ax.axvline(c["eps_inv_mean"], color="0.3", ls=":", label="mean ε_inv")
        ax.set_xscale("log")
        plotting.log_ticks_n(ax)
        ax.invert_xaxis()
        ax.set_xlabel("training error (median over seeds)")
        ax.set_ylabel("overlap z-score (median over pairs)")
        twin.set_ylabel("Jaccard")
        lines = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize="small", loc="lower left")
        add_figure(
            fig,
            out,
            f"cls_overlap_{tag}",
            formats,
            f"{c['optimizer']}, lr {c['lr']:g}, scale {c['scale']:g}, subset {c['subset']}: "
            f"overlap of the misclassified sets of {c['pairs']} seed pairs as a z-score "
            "against the hypergeometric null and as Jaccard, against the training error; "
            "dotted: mean eps_inv (paper Fig 2d)",
            made,
        )
    return made


FIGURES = {
    "cls_radius_vs_error": fig_radius_vs_error,
    "cls_dynamics": fig_dynamics,
    "cls_stability": fig_stability,
    "cls_removal": fig_removal,
    "cls_overlap": fig_overlap,
}
