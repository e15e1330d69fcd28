"""The sweep's report: merged trajectories, summary.csv, n* per group, the printed tables.

Runs once every chunk of a sweep is finished (``finish``). A group is every run sharing all of
``grid.GROUP_AXES`` (all settings but n and seed): one n* each; when d was swept, the power
law n* ~ d^k across the groups that differ only in d.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from alignment.runner import results
from alignment.two_layer import grid, records
from alignment.two_layer.nstar import powerlaw, threshold
from alignment.two_layer.verdict import verdicts

GROUP_AXES = grid.GROUP_AXES
THRESHOLD = "threshold.json"  # the job's report: n* per group, n*(T), power laws


def collect(cfg, workdir) -> xr.Dataset:
    """Merges every chunk's file into trajectories.nc and summary.csv (all chunks must exist)."""
    workdir = Path(workdir)
    traj = results.write_trajectories(workdir, len(grid.plan(cfg, grid.expand(cfg))))
    columns = records.summary_columns(traj, grid.RUN_COLUMNS)
    results.write_csv(workdir / results.SUMMARY, records.summary_table(traj, columns))
    return traj


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _short(est: dict) -> dict:
    return {k: est[k] for k in ("n_star", "ci_low", "ci_high", "reason")}


def _covering(*ests: dict) -> dict:
    """The interval covering every estimate's interval (None where one is open or absent)."""
    lows = [e["ci_low"] for e in ests]
    highs = [e["ci_high"] for e in ests]
    return {
        "ci_low": None if None in lows else min(lows),
        "ci_high": None if None in highs else max(highs),
    }


def _estimate(n_R, interp_R, det_R, seeds_R, cfg) -> dict:
    return threshold.estimate_threshold(
        n_R, interp_R, det_R, seeds_R=seeds_R, n_boot=cfg.n_boot, seed=0
    )


def group_threshold(cfg, rows) -> dict:
    """n* of one group: certified runs only, then with the runs without a verdict counted as
    interpolating and as not; ``interval_both`` covers all three intervals (DESIGN.md)."""
    v = rows["verdict"].to_numpy().astype(str)
    n_R, seeds_R = rows["n"].to_numpy(), rows["seed"].to_numpy()
    interp, determined = verdicts.outcomes(v)
    open_R = np.isin(v, verdicts.OPEN)
    est = _estimate(n_R, interp, determined, seeds_R, cfg)
    if_interp = _estimate(n_R, interp | open_R, determined | open_R, seeds_R, cfg)
    if_stuck = _estimate(n_R, interp, determined | open_R, seeds_R, cfg)
    est["without_verdict"] = int(open_R.sum())
    budget = rows["budget_stop"].to_numpy() if "budget_stop" in rows else np.zeros(len(v))
    est["open_at_step_budget"] = int(np.sum(open_R & (budget == 1)))
    est["if_interpolating"] = _short(if_interp)
    est["if_stuck"] = _short(if_stuck)
    est["interval_both"] = _covering(est, if_interp, if_stuck)
    est["decided_by_n"] = decided_by_table(rows)
    return est


def decided_by_table(rows) -> list[dict]:
    """Per n: how many runs got each verdict, and by which criterion ('verdict/decided_by':
    count), so a reader sees which certificate decided every run of the p(n) table."""
    out = []
    for n, part in rows.groupby("n"):
        why = part["decided_by"].astype(str) if "decided_by" in part else "?"
        pairs = part["verdict"].astype(str) + "/" + why
        counts = pairs.value_counts()
        out.append({"n": int(n), **{str(k): int(v) for k, v in sorted(counts.items())}})
    return out


def reached_by(traj, T: float, tol: verdicts.VerdictTolerances) -> np.ndarray:
    """Per run: the train loss fell below the interpolation tolerance at some time <= T."""
    time = traj["time"].values
    loss = traj["loss"].values
    scale = loss[:, 0]
    loss_tol = np.maximum(tol.abs_tol, tol.rel_tol * np.where(np.isfinite(scale), scale, 0))
    with np.errstate(invalid="ignore"):
        hit = (time <= T * (1 + 1e-9)) & (loss < loss_tol[:, None])
    return hit.any(axis=1)


def threshold_by_time(cfg, traj, rows_idx) -> list[dict]:
    """n*(T): the threshold of 'loss below tolerance by time T', for each decade T up to the
    longest run (and the cap). Every run has this outcome, so none is left out."""
    time = traj["time"].values[rows_idx]
    t_end = float(np.nanmax(time))
    decades = 10.0 ** np.arange(np.ceil(np.log10(max(cfg.t_min, 1e-12))), np.log10(t_end) + 1e-9)
    Ts = sorted({*decades.tolist(), t_end})
    tol = verdicts.VerdictTolerances.from_config(cfg.verdict)
    sub = traj.isel(run=rows_idx)
    n_R, seeds_R = sub["n"].values, sub["seed"].values
    alive = ~sub["diverged"].values.astype(bool)
    out = []
    for T in Ts:
        est = _estimate(n_R, reached_by(sub, T, tol) & alive, alive, seeds_R, cfg)
        out.append({"T": float(T), **_short(est)})
    return out


def time_convergence(by_time: list[dict]) -> dict:
    """Whether n*(T) has stopped moving by the longest T: ``settled`` when the intervals of
    the last two times overlap (a missing bound is open-ended), else ``rising`` or
    ``falling`` (by the estimates) or ``unknown`` (fewer than two times with an estimate)."""
    ests = [e for e in by_time if e["n_star"] is not None]
    if len(ests) < 2:
        return {"state": "unknown", "T": [e["T"] for e in ests]}
    a, b = ests[-2], ests[-1]
    lo = [-np.inf if e["ci_low"] is None else e["ci_low"] for e in (a, b)]
    hi = [np.inf if e["ci_high"] is None else e["ci_high"] for e in (a, b)]
    overlap = max(lo) <= min(hi)
    state = "settled" if overlap else ("rising" if b["n_star"] > a["n_star"] else "falling")
    return {"state": state, "T": [a["T"], b["T"]], "n_star": [a["n_star"], b["n_star"]]}


def threshold_report(cfg, summary, traj=None) -> dict:
    """n* per group (every axis but n and seed), n*(T) when the trajectories are given, and the
    power law in d when d was swept."""
    keys = grid.group_keys(summary)
    groups = []
    for key in dict.fromkeys(keys):
        rows = keys == key
        est = group_threshold(cfg, summary[rows])
        if traj is not None:
            est["n_star_by_time"] = threshold_by_time(cfg, traj, np.flatnonzero(rows))
            est["n_star_by_time_state"] = time_convergence(est["n_star_by_time"])
        first = summary[rows].iloc[0]
        groups.append({**{k: _plain(first[k]) for k in GROUP_AXES}, **est})
    tol = verdicts.VerdictTolerances.from_config(cfg.verdict)
    report = {
        "config": cfg.name,
        "group_axes": list(GROUP_AXES),
        "tolerances": dict(sorted(tol.to_dict().items())),
        "speed": cfg.speed,
        "groups": groups,
    }
    if len({g["d"] for g in groups}) > 1:
        report["power_law_in_d"] = power_laws(groups)
    return report


def power_laws(groups: list[dict]) -> list[dict]:
    """n* against d for each setting of the other axes (with at least two d); ``at_longest``:
    the same fit of n*(T) at the longest time, which every run has an outcome for."""
    out = []
    others = [k for k in GROUP_AXES if k not in ("d", "sweep")]
    keys = [tuple(g[k] for k in others) for g in groups]
    for key in dict.fromkeys(keys):
        gs = [g for g, k in zip(groups, keys, strict=True) if k == key]
        if len({g["d"] for g in gs}) < 2:
            continue
        fit = _fit_d(gs, gs)
        if all(g.get("n_star_by_time") for g in gs):
            fit["at_longest"] = _fit_d(gs, [g["n_star_by_time"][-1] for g in gs])
            fit["at_longest"]["T"] = gs[0]["n_star_by_time"][-1]["T"]
        out.append({**dict(zip(others, key, strict=True)), **fit})
    return out


def _fit_d(gs: list[dict], ests: list[dict]) -> dict:
    """powerlaw.fit_power_law of the estimates ``ests`` (n_star, ci_low, ci_high) against d."""
    return powerlaw.fit_power_law(
        [g["d"] for g in gs],
        [e["n_star"] for e in ests],
        [e["ci_low"] for e in ests],
        [e["ci_high"] for e in ests],
    )


def loss_columns(summary) -> list[str]:
    """The losses the printed table shows: train_loss, then every other ``*_loss`` column the
    family wrote (for two_layer: test_loss and the OLS references)."""
    skip = {"run", "train_loss", *grid.RUN_COLUMNS, *records.FINAL_COLUMNS}
    return ["train_loss"] + [c for c in summary.columns if c.endswith("_loss") and c not in skip]


def varying_axes(keys) -> list[str]:
    """The group axes that differ between groups (the sub-sweep name always)."""
    parts = [k.split("|") for k in dict.fromkeys(keys)]
    return [a for i, a in enumerate(GROUP_AXES) if a == "sweep" or len({p[i] for p in parts}) > 1]


def per_n_table(summary) -> str:
    """Medians over seeds for each (group, n): the table the main job prints."""
    losses = loss_columns(summary)
    cols = ["n", "runs", *(c.removesuffix("_loss") for c in losses), "p_interp", "no_verdict"]
    lines = []
    keys = grid.group_keys(summary)
    shown = varying_axes(keys)
    for key in dict.fromkeys(keys):
        part = summary[keys == key]
        named = dict(zip(GROUP_AXES, key.split("|"), strict=True))
        lines.append("group " + ", ".join(f"{k}={named[k]}" for k in shown))
        lines.append("".join(f"{c:>12}" for c in cols))
        for n, rows in part.groupby("n"):
            v = rows["verdict"]
            det = (v == "interpolating") | (v == "stuck")
            p = (v == "interpolating").sum() / det.sum() if det.any() else float("nan")
            vals = [
                n,
                len(rows),
                *(float(rows[c].median()) for c in losses),
                p,
                np.isin(v, verdicts.OPEN).sum(),
            ]
            lines.append(
                "".join(f"{x:>12.4g}" if isinstance(x, float) else f"{x:>12}" for x in vals)
            )
    return "\n".join(lines)


def _interval(lo, hi) -> str:
    return f"[{'?' if lo is None else f'{lo:.4g}'}, {'?' if hi is None else f'{hi:.4g}'}]"


def _reading(e: dict) -> str:
    """One estimate in words: n* with its interval, or why there is none."""
    if e["n_star"] is None:
        return f"not resolved ({e['reason']})"
    return f"n* = {e['n_star']:.4g} {_interval(e['ci_low'], e['ci_high'])}"


def describe_group(g: dict, varying=()) -> str:
    """One line: the group (its sub-sweep and the axes ``varying`` across groups), n* with its
    interval, and the runs without a verdict counted both ways (the covering interval, or each
    reading in words where one has no interval), or why there is no n*."""
    parts = [str(g["sweep"])] + [f"{k}={g[k]}" for k in varying if k != "sweep"]
    label = "[" + " ".join(parts) + "]"
    if g["n_star"] is None:
        line = f"{label} n* not resolved: {g['reason']}"
    else:
        note = f" ({g['ci_note']})" if g.get("ci_note") else ""
        ci = _interval(g["ci_low"], g["ci_high"])
        line = f"{label} n* = {g['n_star']:.4g}, {100 * g['ci_level']:.0f}% CI {ci}{note}"
    if g.get("without_verdict"):
        both = g["interval_both"]
        line += f"; {g['without_verdict']} runs without a verdict"
        if g.get("open_at_step_budget"):
            line += f" ({g['open_at_step_budget']} stopped at their step budget)"
        line += ", counted both ways: "
        if None not in (both["ci_low"], both["ci_high"]):
            line += _interval(both["ci_low"], both["ci_high"])
        else:
            yes, no = _reading(g["if_interpolating"]), _reading(g["if_stuck"])
            line += f"as interpolating {yes}, as not {no}"
    conv = g.get("n_star_by_time_state")
    if conv and conv["state"] != "unknown":
        (t0, t1), (n0, n1) = conv["T"], conv["n_star"]
        words = {"settled": "has settled", "rising": "is still rising", "falling": "is falling"}
        line += f"; n*(T) {words[conv['state']]} ({n0:.4g} at T={t0:.3g}, {n1:.4g} at T={t1:.3g})"
    return line


def finish(cfg, workdir) -> dict:
    """Merges chunks, writes summary.csv and threshold.json, prints the tables (the entry
    points draw the figures after it)."""
    workdir = Path(workdir)
    traj = collect(cfg, workdir)
    summary = results.read_csv(workdir / results.SUMMARY)
    report = threshold_report(cfg, summary, traj)
    results.write_json(workdir / THRESHOLD, report)
    print(per_n_table(summary))
    keys = ["|".join(str(g[k]) for k in GROUP_AXES) for g in report["groups"]]
    for g in report["groups"]:
        print(describe_group(g, varying_axes(keys)))
    for fit in report.get("power_law_in_d", []):
        for label, f in (("certified n*", fit), ("n*(T) at the longest T", fit.get("at_longest"))):
            if f and f["k"] is not None:
                lo, hi = f["k_ci_low"], f["k_ci_high"]
                print(f"{label} ~ d^k: k = {f['k']:.3g} [{lo:.3g}, {hi:.3g}]")
    return report
