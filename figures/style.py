"""One plotting style for every figure of the suite, and the helpers that save figures.

Figures are ``matplotlib.figure.Figure`` objects made under :func:`style` (an ``rc_context``),
never through pyplot: importing or using this module changes no global state and needs no
display. Colours: verdicts keep one colour everywhere;
neurons are red for a_j > 0 (they climb G_n) and blue for a_j < 0 (they descend it).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

from alignment.runner import results

logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting is chatty

FORMATS = ("png", "pdf")
VERDICT_COLORS = {
    "interpolating": "#1f77b4",
    "stuck": "#d62728",
    "saddle": "#ff7f0e",
    "undetermined": "#7f7f7f",
    "diverged": "#000000",
}
SIGN_COLORS = {1: "#d62728", -1: "#1f77b4"}  # a_j > 0, a_j < 0
SERIES_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
COLUMN_WIDTH = 3.4  # inches: one column of a two-column paper
PAGE_WIDTH = 7.0  # inches: a full page width

RC = {
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "lines.markersize": 4,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "pdf.fonttype": 42,  # embed TrueType: text stays editable in the PDF
    "svg.fonttype": "none",
    "animation.embed_limit": 50,
}


@contextlib.contextmanager
def style():
    """The suite's matplotlib settings, for the duration of a with-block."""
    with matplotlib.rc_context(RC):
        yield


def subplots(ncols: int = 1, nrows: int = 1, width: float = PAGE_WIDTH, aspect: float = 0.75, **kw):
    """A figure of ``nrows x ncols`` panels, ``width`` inches wide, panels ``aspect`` high/wide."""
    height = width / ncols * aspect * nrows
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save(fig, folder, name: str, formats=FORMATS) -> list[Path]:
    """Writes ``fig`` as folder/name.{png,pdf} (atomically); returns the paths."""
    folder = Path(folder)
    paths = []
    for k, fmt in enumerate(formats):
        path = folder / f"{name}.{fmt}"
        with results.atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata=_metadata(fmt))
        paths.append(path)
        if k == 0:  # the layout is done: later formats keep its positions (no second solve)
            fig.set_layout_engine("none")
    return paths


def _metadata(fmt: str) -> dict:
    """No creation dates: regenerating a figure from the same results gives the same file."""
    if fmt == "pdf":
        return {"CreationDate": None, "ModDate": None}
    if fmt == "png":
        return {"Software": None}
    return {}


def log_ticks_n(ax, axis: str = "x") -> None:
    """Plain numbers on a log axis of counts (10, 100, 1000), and 2 and 5 between them where
    the axis spans under two decades, so that it never shows a single number (call it once
    the data are drawn: it reads the axis' span)."""
    target = getattr(ax, f"{axis}axis")
    lo, hi = sorted(target.get_view_interval())
    short = lo > 0 and np.log10(hi / lo) < 2
    subs = (1.0, 2.0, 5.0) if short else (1.0,)
    target.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=subs))
    target.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(matplotlib.ticker.NullFormatter())


def band(
    ax, lo, hi, label: str | None = None, color: str = "0.5", alpha: float = 0.18, axis: str = "x"
) -> None:
    """A shaded interval [lo, hi] across the axes (skipped when a bound is missing)."""
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return
    span = ax.axvspan if axis == "x" else ax.axhspan
    span(lo, hi, color=color, alpha=alpha, lw=0, label=label)


def panel_label(ax, text: str) -> None:
    """A bold panel letter in the top-left corner, outside the axes."""
    ax.text(-0.02, 1.02, text, transform=ax.transAxes, fontweight="bold", ha="right", va="bottom")
