"""The classifier job's report: trajectories.nc, summary.csv and the claims in classifier.json.

Runs once every chunk is finished (``finish``); prints one line per claim of DESIGN.md
section 4 with the numbers that decide it (``cls_claims.py`` holds the rules).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from alignment.classifier import chunks as classifier_job
from alignment.classifier import claims as cls_claims
from alignment.runner import results

CLAIMS = "classifier.json"
RUN_COLUMNS = ("run", *classifier_job.RUN_COLUMNS, "removed", "verdict")
RULES = {
    "i": "eps_inv's coefficient of variation is below t_inv's in every comparison (across "
    "seeds, subsets, optimizers; paper rule)",
    "ii": "fewer runs retrained without their stragglers invert (robust rule) than runs "
    "retrained without as many random points",
    "iii": "removing the stragglers moves the final test error more than removing as many "
    "random points (|mean paired change|)",
    "iv": "the median overlap z-score of seed pairs peaks at a training error within a factor "
    "2 of the mean eps_inv",
    "v": "(small init, scale < 1) at least half the runs invert (robust rule) and the median "
    "t_inv / t_align_end is within [1/2, 2]",
}


def collect(cfg, workdir) -> xr.Dataset:
    """Merges every chunk's file into trajectories.nc (all chunks must exist)."""
    chunks = classifier_job.plan(cfg, classifier_job.expand(cfg))
    return results.write_trajectories(workdir, len(chunks))


def summary(traj: xr.Dataset, cfg) -> dict[str, np.ndarray]:
    """One row per run: its settings, removed count and verdict, then the derived numbers."""
    cols = {k: traj[k].values for k in RUN_COLUMNS}
    return cols | {"steps": traj["step"].values[:, -1]} | cls_claims.per_run(traj, cfg)


def small_init(rows: dict) -> list[dict]:
    """Question (v): does the inversion appear, and where is it against the end of early
    alignment (the first step with |(W, b)| doubled)?"""
    out = []
    for g, base in cls_claims.groups(rows):
        t_inv = np.asarray(rows["t_inv_robust"], float)[base]
        t_al = np.asarray(rows["t_align_end"], float)[base]
        ratio = t_inv / t_al
        ok = np.isfinite(ratio)
        out.append(
            g
            | {
                "runs": len(base),
                "inverted_robust": float(np.mean(np.isfinite(t_inv))),
                "inverted_paper": float(
                    np.mean(np.isfinite(np.asarray(rows["t_inv_paper"])[base]))
                ),
                "t_inv_robust_median": _median(t_inv),
                "t_align_end_median": _median(t_al),
                "ratio_median": _median(ratio),
                "ratio_min": float(ratio[ok].min()) if ok.any() else None,
                "ratio_max": float(ratio[ok].max()) if ok.any() else None,
                "eps_inv_robust_median": _median(np.asarray(rows["eps_inv_robust"])[base]),
                "eps_align_end_median": _median(np.asarray(rows["eps_align_end"])[base]),
            }
        )
    return out


def _median(v) -> float | None:
    v = np.asarray(v, float)
    return float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else None


def claims(traj: xr.Dataset, cfg, rows: dict) -> dict:
    """Claims (i)-(iv) and question (v), each with its numbers, rule and ``holds``."""
    stab = {rule: cls_claims.stability(rows, rule) for rule in ("paper", "robust")}
    by_comparison = {
        part: cls_claims.smaller_cv(e) for part, e in stab["paper"].items() if part != "all_runs"
    }  # pooled: reported, not part of the rule
    decided = [v for v in by_comparison.values() if v is not None]
    rem = (
        cls_claims.removal(rows)
        if cfg.removal
        else {"groups": [], "holds_ii": None, "holds_iii": None}
    )
    curves = cls_claims.overlap_curves(traj, rows, cfg)
    near = [
        c["peak_train_error"] / c["eps_inv_mean"]
        for c in curves
        if c["peak_train_error"] is not None and c["eps_inv_mean"]
    ]
    small = small_init(rows)
    judged = [g for g in small if g["scale"] < 1]
    v = (
        None
        if not judged
        else all(
            g["inverted_robust"] >= 0.5
            and g["ratio_median"] is not None
            and 0.5 <= g["ratio_median"] <= 2
            for g in judged
        )
    )
    return {
        "i_eps_inv_stable": {
            "rule": RULES["i"],
            "holds": all(decided) if decided else None,
            "holds_by_comparison": by_comparison,
            **stab,
        },
        "ii_no_inversion_without_stragglers": {
            "rule": RULES["ii"],
            "holds": rem["holds_ii"],
            "groups": rem["groups"],
        },
        "iii_test_error_after_removal": {"rule": RULES["iii"], "holds": rem["holds_iii"]},
        "iv_overlap_peaks_at_eps_inv": {
            "rule": RULES["iv"],
            "holds": all(0.5 <= x <= 2 for x in near) if near else None,
            "peak_error_over_eps_inv": near,
            "curves": curves,
        },
        "v_small_init_inversion": {"rule": RULES["v"], "holds": v, "groups": small},
    }


def _g(c: dict) -> str:
    return f"{c['optimizer']} lr={c['lr']:g} scale={c['scale']:g}"


def _num(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def describe(cl: dict) -> list[str]:
    """One printed line per claim: whether it holds by its rule, then its main numbers."""
    word = {True: "holds", False: "does not hold", None: "not decided (no runs for it)"}
    lines = []
    for name, c in cl.items():
        lines.append(f"claim {name}: {word[c['holds']]} ({c['rule']})")
    i = cl["i_eps_inv_stable"]
    lines.append(
        "  CV(eps_inv) < CV(t_inv): "
        + ", ".join(f"{k} {word[v].split(' (')[0]}" for k, v in i["holds_by_comparison"].items())
    )
    for e in i["paper"]["across_seeds"]:
        lines.append(
            f"  {_g(e)}: eps_inv {_num(e['eps_inv']['mean'])} +- "
            f"{_num(e['eps_inv']['sd'])} (CV {_num(e['eps_inv']['cv'])}), t_inv "
            f"{_num(e['t_inv']['mean'])} (CV {_num(e['t_inv']['cv'])})"
        )
    for e in cl["ii_no_inversion_without_stragglers"]["groups"]:
        parts = [
            f"{p}: inverted {e[p]['inverted_robust']:.2f}, test "
            f"{_num(e[p]['test_error']['mean'])}, noisy "
            f"{_num(e[p]['noisy_test_error']['mean'])}"
            for p in ("base", "no_stragglers", "random")
        ]
        lines.append(f"  {_g(e)}: " + "; ".join(parts))
    for c in cl["iv_overlap_peaks_at_eps_inv"]["curves"]:
        lines.append(
            f"  {_g(c)} subset {c['subset']}: z peaks at step {c['peak_step']}, train "
            f"error {_num(c['peak_train_error'])} (eps_inv {_num(c['eps_inv_mean'])})"
        )
    for g in cl["v_small_init_inversion"]["groups"]:
        lines.append(
            f"  {_g(g)}: inverted {g['inverted_robust']:.2f}, t_inv "
            f"{_num(g['t_inv_robust_median'])}, t_align_end "
            f"{_num(g['t_align_end_median'])}"
        )
    return lines


def finish(cfg, workdir) -> dict:
    """Merges chunks, writes summary.csv and classifier.json, prints the claims."""
    workdir = Path(workdir)
    traj = collect(cfg, workdir)
    rows = summary(traj, cfg)
    results.write_csv(workdir / results.SUMMARY, rows)
    verdicts = dict(
        zip(*np.unique(traj["verdict"].values.astype(str), return_counts=True), strict=True)
    )
    report = {
        "name": cfg.name,
        "runs": int(traj.sizes["run"]),
        "n_train": traj.attrs["n_train"],
        "verdicts": {str(k): int(v) for k, v in verdicts.items()},
        "claims": claims(traj, cfg, rows),
    }
    results.write_json(workdir / CLAIMS, report)
    print(f"{report['runs']} runs: {report['verdicts']}")
    for line in describe(report["claims"]):
        print(line)
    return report
