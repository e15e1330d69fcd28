"""The mean-field job's report: merged trajectories, summary.csv, the claims in mean_field.json.

Runs once every chunk is finished (``finish``); prints one line per claim of DESIGN.md
section 3 with the numbers that decide it (``mf_claims.py`` holds the rules).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from alignment.mean_field import chunks as mean_field_job
from alignment.mean_field import claims as mf_claims
from alignment.runner import results

CLAIMS = "mean_field.json"
RUN_COLUMNS = (
    "run",
    *mean_field_job.RUN_COLUMNS,
    "verdict",
    "diverge_time",
    "steps",
    "floored_steps",
)


def collect(cfg, workdir) -> xr.Dataset:
    """Merges every chunk's file into trajectories.nc (all chunks must exist)."""
    chunks = mean_field_job.plan(cfg, mean_field_job.expand(cfg))
    return results.write_trajectories(workdir, len(chunks))


def summary(traj: xr.Dataset, cfg) -> dict[str, np.ndarray]:
    """One row per run: its settings, steps and verdict, then the derived numbers."""
    cols = {k: traj[k].values for k in RUN_COLUMNS if k in traj.variables}
    return cols | mf_claims.per_run(traj, cfg.collapse_level, cfg.plateau_level, cfg.near_min_level)


def _fmt(by_m: dict) -> str:
    return ", ".join(f"m={m}: {v[0]:.3g}" for m, v in by_m.items() if v)


def describe(claims: dict) -> list[str]:
    """One printed line per claim: whether it holds by its rule, and its main numbers."""
    lines = []
    main = {
        "i_test_minimum": "t_test_near_min",
        "ii_overfitting_at_t_over_m": "t_c_over_m",
        "iv_pure_noise_plateau": "t_p_over_m",
        "v_lazy_cross_overlap": "final_m_cross",
        "vi_max_a_linear": "slope",
    }
    for name, c in claims.items():
        undecided = "not decided: its rule applies to none of its groups (see below)"
        if not c["groups"]:
            undecided = "no runs for it"
        state = {True: "holds", False: "does not hold", None: undecided}[c["holds"]]
        lines.append(f"claim {name}: {state} ({c['rule']})")
        for g in c["groups"]:
            where = ", ".join(f"{k}={g[k]}" for k in ("target", "tau", "m", "gamma0") if k in g)
            if name == "iii_frozen_a_threshold":
                ratio = g["final_gamma_over_gamma_star"]
                lines.append(
                    f"  {where}: gamma* = {g['gamma_star']:.3g} "
                    f"({g['gamma_star_how']}), final gamma / gamma* = {ratio}"
                )
            else:
                lines.append(f"  {where}: {main[name]} {_fmt(g[main[name]])}")
    return lines


def finish(cfg, workdir) -> dict:
    """Merges chunks, writes summary.csv and mean_field.json, prints the claims."""
    workdir = Path(workdir)
    traj = collect(cfg, workdir)
    results.write_csv(workdir / results.SUMMARY, summary(traj, cfg))
    claims = mf_claims.claims(traj, cfg)
    verdicts = dict(
        zip(*np.unique(traj["verdict"].values.astype(str), return_counts=True), strict=True)
    )
    report = {
        "name": cfg.name,
        "runs": int(traj.sizes["run"]),
        "verdicts": {str(k): int(v) for k, v in verdicts.items()},
        "steps": {"median": float(np.median(traj["steps"])), "max": int(traj["steps"].max())},
        "claims": claims,
    }
    results.write_json(workdir / CLAIMS, report)
    print(
        f"{report['runs']} runs: {report['verdicts']}; integrator steps median "
        f"{report['steps']['median']:.0f}, max {report['steps']['max']}"
    )
    for line in describe(claims):
        print(line)
    return report
