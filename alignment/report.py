"""The sweep's report: merged trajectories, summary.csv, n* per group, the printed tables.

Runs once every chunk of a sweep is finished (``finish``). A group is every run sharing all of
``grid.GROUP_AXES`` (all settings but n and seed): one n* each; when d was swept, the power
law n* ~ d^k across the groups that differ only in d.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from alignment import grid, powerlaw, results, threshold, verdict_loop, verdicts

GROUP_AXES = grid.GROUP_AXES


def collect(cfg, workdir) -> xr.Dataset:
    """Merges every chunk's file into trajectories.nc and summary.csv (all chunks must exist)."""
    workdir = Path(workdir)
    chunks = grid.plan(cfg, grid.expand(cfg))
    missing = sorted(set(range(len(chunks))) - set(results.finished_chunks(workdir)))
    if missing:
        raise RuntimeError(f"{len(missing)} chunks not finished yet (first: {missing[:5]})")
    traj = results.merge_chunks([results.load_chunk(workdir, c.index) for c in chunks])
    results.write_netcdf(workdir / results.TRAJECTORIES, traj)
    columns = results.summary_columns(traj, grid.RUN_COLUMNS)
    results.write_csv(workdir / results.SUMMARY, results.summary_table(traj, columns))
    return traj


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def threshold_report(cfg, summary) -> dict:
    """n* per group (every axis but n and seed), and the power law in d when d was swept."""
    interp, determined = verdicts.outcomes(summary["verdict"].to_numpy())
    keys = grid.group_keys(summary)
    groups = []
    for key in dict.fromkeys(keys):
        rows = keys == key
        est = threshold.estimate_threshold(
            summary["n"].to_numpy()[rows], interp[rows], determined[rows],
            seeds_R=summary["seed"].to_numpy()[rows], n_boot=cfg.n_boot, seed=0,
        )  # fmt: skip
        first = summary[rows].iloc[0]
        groups.append({**{k: _plain(first[k]) for k in GROUP_AXES}, **est})
    report = {
        "config": cfg.name,
        "group_axes": list(GROUP_AXES),
        "tolerances": verdict_loop.verdict_tolerances(cfg),
        "speed": cfg.speed,
        "groups": groups,
    }
    if len({g["d"] for g in groups}) > 1:
        report["power_law_in_d"] = _power_laws(groups)
    return report


def _power_laws(groups: list[dict]) -> list[dict]:
    """n* against d for each setting of the other axes (with at least two d)."""
    out = []
    others = [k for k in GROUP_AXES if k not in ("d", "sweep")]
    keys = [tuple(g[k] for k in others) for g in groups]
    for key in dict.fromkeys(keys):
        gs = [g for g, k in zip(groups, keys, strict=True) if k == key]
        if len({g["d"] for g in gs}) < 2:
            continue
        fit = powerlaw.fit_power_law(
            [g["d"] for g in gs], [g["n_star"] for g in gs],
            [g["ci_low"] for g in gs], [g["ci_high"] for g in gs],
        )  # fmt: skip
        out.append({**dict(zip(others, key, strict=True)), **fit})
    return out


def loss_columns(summary) -> list[str]:
    """The losses the printed table shows: train_loss, then every other ``*_loss`` column the
    family wrote (for two_layer: test_loss and the OLS references)."""
    skip = {"run", "train_loss", *grid.RUN_COLUMNS, *results.FINAL_COLUMNS}
    return ["train_loss"] + [c for c in summary.columns if c.endswith("_loss") and c not in skip]


def varying_axes(keys) -> list[str]:
    """The group axes that differ between groups (the sub-sweep name always)."""
    parts = [k.split("|") for k in dict.fromkeys(keys)]
    return [a for i, a in enumerate(GROUP_AXES) if a == "sweep" or len({p[i] for p in parts}) > 1]


def per_n_table(summary) -> str:
    """Medians over seeds for each (group, n): the table the main job prints."""
    losses = loss_columns(summary)
    cols = ["n", "runs", *(c.removesuffix("_loss") for c in losses), "p_interp", "undet"]
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
            vals = [n, len(rows), *(float(rows[c].median()) for c in losses), p,
                    (v == "undetermined").sum()]  # fmt: skip
            lines.append(
                "".join(f"{x:>12.4g}" if isinstance(x, float) else f"{x:>12}" for x in vals)
            )
    return "\n".join(lines)


def describe_group(g: dict) -> str:
    """One line: n* with its interval, or why there is none."""
    label = f"[{g['sweep']}]"
    if g["n_star"] is None:
        return f"{label} n* not resolved: {g['reason']}"
    lo = "?" if g["ci_low"] is None else f"{g['ci_low']:.4g}"
    hi = "?" if g["ci_high"] is None else f"{g['ci_high']:.4g}"
    note = f" ({g['ci_note']})" if g.get("ci_note") else ""
    return f"{label} n* = {g['n_star']:.4g}, {100 * g['ci_level']:.0f}% CI [{lo}, {hi}]{note}"


def finish(cfg, workdir) -> dict:
    """Merges chunks, writes summary.csv and threshold.json, prints the tables (the entry
    points draw the figures after it)."""
    workdir = Path(workdir)
    collect(cfg, workdir)
    summary = results.read_csv(workdir / results.SUMMARY)
    report = threshold_report(cfg, summary)
    results.write_json(workdir / results.THRESHOLD, report)
    print(per_n_table(summary))
    for g in report["groups"]:
        print(describe_group(g))
    for fit in report.get("power_law_in_d", []):
        if fit["k"] is not None:
            print(f"n* ~ d^k: k = {fit['k']:.3g} [{fit['k_ci_low']:.3g}, {fit['k_ci_high']:.3g}]")
    return report
