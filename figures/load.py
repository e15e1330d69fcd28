"""What a finished sweep's workdir holds, loaded once for every figure, and shared helpers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from alignment.runner import results
from alignment.two_layer import report as threshold_report
from alignment.two_layer.grid import GROUP_AXES, group_keys
from figures import style as plotting

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
    for name in (results.CONFIG, results.SUMMARY, threshold_report.THRESHOLD, results.TRAJECTORIES):
        if not (workdir / name).exists():
            raise FileNotFoundError(
                f"{workdir / name} is missing: figures are made from a finished sweep "
                "(run python -m sweeps.run, or sweeps.merge for a split job, first)"
            )
    config = json.loads((workdir / results.CONFIG).read_text())
    summary = read_summary(workdir, ("run", "sweep", "n", "seed", "verdict"))
    summary["sweep"] = summary["sweep"].astype(str)
    report = json.loads((workdir / threshold_report.THRESHOLD).read_text())
    with xr.open_dataset(workdir / results.TRAJECTORIES, engine="netcdf4") as ds:
        traj = ds.load()
    return Stored(workdir, config, summary, report, traj, group_keys(summary))


def read_summary(workdir, needed):
    """summary.csv, with every column ``needed`` (ValueError naming the first one absent)."""
    path = Path(workdir) / results.SUMMARY
    try:
        summary = results.read_csv(path)
    except (ValueError, OSError) as e:  # pandas' parser errors are ValueErrors
        raise ValueError(f"{path} is not a readable CSV ({e})") from e
    missing = [c for c in needed if c not in summary.columns]
    if missing:
        raise ValueError(
            f"{path} lacks the column(s) {missing}: it is not this job's summary (rerun "
            "python -m sweeps.merge to write it anew)"
        )
    return summary


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


def group_label(g: dict, varying: list[str]) -> str:
    names = {"lam": "λ", "lr": "η", "sigma": "σ"}

    def fmt(v):
        return f"{v:g}" if isinstance(v, int | float) and not isinstance(v, bool) else str(v)

    return ", ".join(f"{names.get(k, k)}={fmt(g[k])}" for k in varying) or "all runs"


def varying_axes(groups: list[dict]) -> list[str]:
    """The group axes that take more than one value among ``groups``."""
    return [k for k in GROUP_AXES if k != "sweep" and len({str(g[k]) for g in groups}) > 1]


def nstar_text(g: dict) -> str:
    if g.get("n_star") is None:
        return "n* not resolved"
    lo = "?" if g["ci_low"] is None else f"{g['ci_low']:.3g}"
    hi = "?" if g["ci_high"] is None else f"{g['ci_high']:.3g}"
    return f"n* = {g['n_star']:.3g} [{lo}, {hi}]"


def mark_nstar(ax, g: dict, color: str = "0.3", label: bool = True) -> None:
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


def neuron_run_ids(workdir) -> set[int]:
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


def run_series(st: Stored, run_id: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(time, values) of one run's snapshot variable, real snapshots only."""
    one = st.traj.sel(run=run_id)
    t = np.asarray(one["time"].values, np.float64)
    v = np.asarray(one[name].values, np.float64)
    keep = np.isfinite(t)
    return t[keep], v[keep]


def run_value(st: Stored, run_id: int, name: str):
    row = st.summary[st.summary["run"] == run_id]
    return row[name].iloc[0] if name in row else None


def event_lines(ax, st: Stored, run_id: int, horizontal: bool = False) -> None:
    styles = {"alignment_time": ("--", "alignment"), "escape_time": (":", "escape")}
    for key, (ls, text) in styles.items():
        t = run_value(st, run_id, key)
        if t is not None and np.isfinite(t) and t > 0:
            (ax.axhline if horizontal else ax.axvline)(t, color="k", ls=ls, lw=0.9, label=text)


# ----------------------------------------------------------------------------------------------
# figures: each returns (written paths, captions by figure name, skipped: name -> reason)
# ----------------------------------------------------------------------------------------------


Made = tuple[list[Path], dict[str, str], dict[str, str]]


def named_lines(meanings: dict[str, str], drawn: set) -> str:
    """What a figure's lines mean, naming only the kinds it drew ('' when none)."""
    return ", ".join(text for key, text in meanings.items() if key in drawn)


def series_color(i: int) -> str:
    """The i-th colour of the suite's series palette (cycled)."""
    return plotting.SERIES_COLORS[i % len(plotting.SERIES_COLORS)]


def add_figure(fig, out, name: str, formats, caption: str, made: Made) -> None:
    """Saves ``fig`` as out/name.{formats} and records its files and caption in ``made``."""
    made[0].extend(plotting.save(fig, out, name, formats))
    made[1][name] = caption


def read_job(workdir, claims: str, job: str) -> tuple[dict, pd.DataFrame, dict, xr.Dataset]:
    """config.json, summary.csv, the job's claims json and trajectories.nc of a finished job
    (FileNotFoundError naming the first missing file)."""
    workdir = Path(workdir)
    for name in (results.CONFIG, results.SUMMARY, claims, results.TRAJECTORIES):
        if not (workdir / name).exists():
            raise FileNotFoundError(
                f"{workdir / name} is missing: figures are made from a finished {job} job "
                "(run python -m sweeps.run first)"
            )
    with xr.open_dataset(workdir / results.TRAJECTORIES, engine="netcdf4") as ds:
        traj = ds.load()
    return (
        json.loads((workdir / results.CONFIG).read_text()),
        read_summary(workdir, ("run", "verdict")),
        json.loads((workdir / claims).read_text()),
        traj,
    )
