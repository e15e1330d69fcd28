"""Figures of the mean-field job (DESIGN.md section 3; Montanari & Urbani Figs 2, 4), from a
finished workdir alone: config.json, summary.csv, mean_field.json and trajectories.nc.

Every curve is the median over seeds at each snapshot (runs of one width share a time grid),
one colour per width m. Names (one per target and tau where they apply):

  mf_dynamics_T_tauX      mean|a_i| and gamma against t; train and test against t and t/m
  mf_gamma_collapse_T_tauX  gamma against t/m (claim ii's collapse), t_c/m marked
  mf_v_gamma_T_tauX       v sqrt(m) gamma against gamma (feature unlearning: -> ~1)
  mf_train_vs_gamma_T_tauX  train against gamma along the runs, with the frozen-a e_tr(gamma)
  mf_pure_noise_tauX      pure noise: train against t/m (plateau at tau^2/2 until t ~ m)
  mf_lazy_cross_T_tauX    lazy init: m C_o against t m (-> -1)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from figures import style as plotting
from figures.load import Made, add_figure, read_job, series_color

CLAIMS = "mean_field.json"


@dataclasses.dataclass
class MFStored:
    workdir: Path
    config: dict
    summary: pd.DataFrame
    claims: dict
    traj: xr.Dataset

    def cells(self, kind: str, target: str | None = None):
        """(target, tau, row mask) of each (target, tau) with runs of ``kind``."""
        kinds = self.traj["kind"].values.astype(str)
        targets = self.traj["target"].values.astype(str)
        taus = self.traj["tau"].values
        for tg in dict.fromkeys(targets):
            for tau in dict.fromkeys(taus):
                rows = (kinds == kind) & (targets == tg) & (taus == tau)
                if rows.any() and target in (None, tg):
                    yield str(tg), float(tau), rows

    def median(self, rows, name: str, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(time, median of ``name`` over the runs ``rows`` of width m) per snapshot."""
        sel = rows & (self.traj["m"].values == m)
        return (
            np.median(self.traj["time"].values[sel], axis=0),
            np.median(self.traj[name].values[sel], axis=0),
        )

    def widths(self, rows) -> list[int]:
        return [int(m) for m in np.unique(self.traj["m"].values[rows])]


def load(workdir) -> MFStored:
    return MFStored(Path(workdir), *read_job(workdir, CLAIMS, "mean-field"))


def _setting(tg: str, tau: float, init: str) -> str:
    """The one title of a figure: the target, the noise and the init."""
    return f"{tg.replace('_', ' ')}, τ = {tau:g}, {init}"


def _tag(tg: str, tau: float) -> str:
    return f"{tg}_tau{tau:g}"


def fig_dynamics(st: MFStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    for tg, tau, rows in st.cells("mean_field"):
        fig, axes = plotting.subplots(2, 2, aspect=0.7)
        for i, m in enumerate(st.widths(rows)):
            c = series_color(i)
            for ax, key in ((axes[0, 0], "complexity"), (axes[0, 1], "gamma")):
                ax.plot(*st.median(rows, key, m), color=c, label=f"m={m}")
            for ax, scale in ((axes[1, 0], 1), (axes[1, 1], m)):
                t, test = st.median(rows, "test_loss", m)
                ax.plot(t / scale, test, color=c, label=f"test, m={m}")
                ax.plot(t / scale, st.median(rows, "loss", m)[1], color=c, ls="--", lw=1)
        for ax, ylab in zip(
            axes.flat, ("mean |a_i|", "γ = mean|a_i| / √m", "error", "error"), strict=True
        ):
            ax.set_xscale("log")
            ax.set_ylabel(ylab)
        for ax in axes[1]:
            ax.set_yscale("log")
            ax.axhline(tau**2 / 2, color="0.4", ls=":", lw=1, label="Bayes τ²/2")
        for ax, xlab in zip(axes.flat, ("t", "t", "t", "t / m"), strict=True):
            ax.set_xlabel(xlab)
        axes[0, 0].legend(fontsize="small")
        axes[1, 1].legend(fontsize="small")
        fig.suptitle(f"{_setting(tg, tau, 'mean-field init')} (test solid, train dashed)")
        add_figure(
            fig,
            out,
            f"mf_dynamics_{_tag(tg, tau)}",
            formats,
            f"{tg}, tau={tau:g}: second-layer size and train/test error against t and t/m "
            "per width (median over seeds)",
            made,
        )
    return made


def fig_gamma_collapse(st: MFStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    t_c = st.summary.set_index("run")["t_half_gamma"]
    for tg, tau, rows in st.cells("mean_field"):
        fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.3)
        axes[0, 0].set_title(_setting(tg, tau, "mean-field init"))
        ax = axes[0, 0]
        for i, m in enumerate(st.widths(rows)):
            t, g = st.median(rows, "gamma", m)
            ax.plot(t / m, g, color=series_color(i), label=f"m={m}")
            ids = st.traj["run"].values[rows & (st.traj["m"].values == m)]
            ax.axvline(np.nanmedian(t_c.loc[ids].values) / m, color=series_color(i), ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("t / m")
        ax.set_ylabel("γ")
        ax.legend(fontsize="small", title="dotted: t_c / m")
        add_figure(
            fig,
            out,
            f"mf_gamma_collapse_{_tag(tg, tau)}",
            formats,
            f"{tg}, tau={tau:g}: gamma against t/m per width; dotted lines mark t_c/m, "
            "when gamma has covered its collapse_level share of its rise (claim ii)",
            made,
        )
    return made


def fig_v_gamma(st: MFStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    for tg, tau, rows in st.cells("mean_field", "single_index"):
        fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.3)
        axes[0, 0].set_title(_setting(tg, tau, "mean-field init"))
        ax = axes[0, 0]
        for i, m in enumerate(st.widths(rows)):
            _, g = st.median(rows, "gamma", m)
            _, v = st.median(rows, "overlap", m)
            ax.plot(g, v * np.sqrt(m) * g, color=series_color(i), label=f"m={m}")
        ax.axhline(1.0, color="0.4", ls=":", lw=1)
        ax.set_xlabel("γ")
        ax.set_ylabel("v √m γ")
        ax.legend(fontsize="small")
        add_figure(
            fig,
            out,
            f"mf_v_gamma_{_tag(tg, tau)}",
            formats,
            f"{tg}, tau={tau:g}: v sqrt(m) gamma against gamma along training (v = mean "
            "<w_i, w*>); feature unlearning predicts ~1 late",
            made,
        )
    return made


def fig_train_vs_gamma(st: MFStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    frozen = {
        (g["target"], g["tau"], g["m"]): g
        for g in st.claims["claims"]["iii_frozen_a_threshold"]["groups"]
    }
    for tg, tau, rows in st.cells("mean_field"):
        name = f"mf_train_vs_gamma_{_tag(tg, tau)}"
        fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.3)
        ax = axes[0, 0]
        ax.set_title(_setting(tg, tau, "mean-field init"))
        for i, m in enumerate(st.widths(rows)):
            _, g = st.median(rows, "gamma", m)
            ax.plot(g, st.median(rows, "loss", m)[1], color=series_color(i), label=f"m={m}")
            cell = frozen.get((tg, tau, m))
            if cell:
                ax.plot(cell["gamma"], cell["e_tr"], "o--", color=series_color(i), ms=4, lw=0.8)
                if cell["gamma_star"] is not None:
                    ax.axvline(cell["gamma_star"], color=series_color(i), ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("γ")
        ax.set_ylabel("train error")
        ax.legend(fontsize="small", title="o--: frozen-a e_tr,∞(γ)")
        add_figure(
            fig,
            out,
            name,
            formats,
            f"{tg}, tau={tau:g}: train error against gamma along training, with the "
            "frozen-a curve e_tr(gamma) (circles) and gamma_GF* (dotted) per width "
            "(claim iii)",
            made,
        )
    return made


def fig_pure_noise(st: MFStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    for tg, tau, rows in st.cells("mean_field", "pure_noise"):
        fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.3)
        ax = axes[0, 0]
        ax.set_title(_setting(tg, tau, "mean-field init"))
        for i, m in enumerate(st.widths(rows)):
            t, loss = st.median(rows, "loss", m)
            ax.plot(t / m, loss, color=series_color(i), label=f"m={m}")
        ax.axhline(tau**2 / 2, color="0.4", ls=":", lw=1, label="τ²/2")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("t / m")
        ax.set_ylabel("train error")
        ax.legend(fontsize="small")
        add_figure(
            fig,
            out,
            f"mf_pure_noise_tau{tau:g}",
            formats,
            f"pure noise, tau={tau:g}: train error against t/m per width; the plateau at "
            "tau^2/2 should end at t ~ m (claim iv)",
            made,
        )
    return made


def fig_lazy_cross(st: MFStored, out: Path, formats) -> Made:
    made: Made = ([], {}, {})
    styles = ("-", "--", "-.", ":")
    for tg, tau, rows in st.cells("lazy"):
        fig, axes = plotting.subplots(1, width=plotting.COLUMN_WIDTH * 1.3)
        axes[0, 0].set_title(_setting(tg, tau, "lazy init"))
        ax = axes[0, 0]
        scales = np.unique(st.traj["scale"].values[rows])
        for i, m in enumerate(st.widths(rows)):
            for j, g0 in enumerate(scales):
                sel = rows & (st.traj["scale"].values == g0)
                t, c = st.median(sel, "m_cross", m)
                ax.plot(
                    t * m,
                    c,
                    color=series_color(i),
                    ls=styles[j % len(styles)],
                    lw=1.2,
                    label=f"m={m}, γ0={g0:g}",
                )
        ax.axhline(-1.0, color="0.4", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("t · m")
        ax.set_ylabel("m C_o")
        ax.legend(fontsize="x-small", ncol=2)
        add_figure(
            fig,
            out,
            f"mf_lazy_cross_{_tag(tg, tau)}",
            formats,
            f"lazy init, {tg}, tau={tau:g}: m C_o (C_o = mean_(i!=j) <w_i, w_j>) against "
            "t m per width and gamma0; claim (v): -> -1 for pure noise",
            made,
        )
    return made


FIGURES = {
    "mf_dynamics": fig_dynamics,
    "mf_gamma_collapse": fig_gamma_collapse,
    "mf_v_gamma": fig_v_gamma,
    "mf_train_vs_gamma": fig_train_vs_gamma,
    "mf_pure_noise": fig_pure_noise,
    "mf_lazy_cross": fig_lazy_cross,
}
