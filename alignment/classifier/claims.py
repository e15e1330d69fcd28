"""The classifier job's numbers and claims (DESIGN.md section 4), from its trajectories.

:func:`per_run` derives each run's inversion (both rules), its training error there
(``eps_inv``), the stragglers' count, the final errors and the end of early alignment;
:func:`claims` evaluates claims (i)-(iv) and the small-init question (v), each with its numbers
and the rule that decides ``holds`` (true, false, or null when no run can decide it).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import xarray as xr

from alignment.classifier import stats as class_stats


def _nanmean(x, axis=None):
    """The mean of the finite entries; NaN, without numpy's warning, where there are none (a
    group whose runs have no inversion)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def _nanmedian(x, axis=None):
    """As :func:`_nanmean`, the median."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(x, axis=axis)


GROUP = ("optimizer", "lr", "scale")


def inversion_at(cfg, r0, r1, rule: str) -> int | None:
    """The inversion snapshot of one run by ``rule`` with the config's burn-in (in steps,
    rounded up to snapshots), window and tolerance; None: no inversion."""
    every = cfg.snapshot_every
    return class_stats.inversion_index(
        r0, r1, rule, -(-cfg.burn_in // every), cfg.smooth_window, cfg.rise_tol
    )


def align_end(loss_K, drop: float) -> int | None:
    """The end of early alignment: the first snapshot with loss <= (1 - drop) x loss(0), when
    the plateau at theta ~ 0 ends (DESIGN section 2: only then do norms grow and the loss
    fall); None: never."""
    hit = np.flatnonzero(np.asarray(loss_K) <= (1 - drop) * loss_K[0])
    return int(hit[0]) if hit.size else None


def per_run(traj: xr.Dataset, cfg) -> dict[str, np.ndarray]:
    """Per run: t_inv (steps) and eps_inv by both rules, the stragglers S(t_inv) (removal_rule),
    final and minimum errors, and the end of early alignment (steps; NaN: none)."""
    num, n, every = traj.sizes["run"], int(traj.attrs["n_train"]), cfg.snapshot_every
    err = traj["train_error"].values
    out = {
        k: np.full(num, np.nan)
        for k in (
            "t_inv_paper",
            "eps_inv_paper",
            "t_inv_robust",
            "eps_inv_robust",
            "stragglers",
            "t_align_end",
            "eps_align_end",
        )
    }
    for r in range(num):
        r0, r1 = traj["R_0"].values[r], traj["R_1"].values[r]
        for rule in class_stats.RULES:
            t = inversion_at(cfg, r0, r1, rule)
            if t is not None:
                out[f"t_inv_{rule}"][r], out[f"eps_inv_{rule}"][r] = t * every, err[r, t]
                if rule == cfg.removal_rule:
                    bits = traj["miss_bits"].values[r, t]
                    out["stragglers"][r] = class_stats.unpack(bits, n).sum()
        t = align_end(traj["loss"].values[r], cfg.align_drop)
        if t is not None:
            out["t_align_end"][r], out["eps_align_end"][r] = t * every, err[r, t]
    for k in ("train_error", "test_error", "noisy_test_error", "loss", "R_0", "R_1", "D"):
        out[f"final_{k}"] = traj[k].values[:, -1]
    out["min_test_error"] = np.nanmin(traj["test_error"].values, axis=1)
    return out


def _stats(v) -> dict:
    v = np.asarray(v, np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return {"count": 0, "mean": None, "sd": None, "cv": None}
    mean, sd = float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
    return {"count": int(v.size), "mean": mean, "sd": sd, "cv": sd / mean if mean else None}


def groups(runs: dict, phase: str = "base"):
    """(settings dict, row indices) of each (optimizer, lr, scale) with runs of ``phase``."""
    rows = np.flatnonzero(np.asarray(runs["phase"]) == phase)
    keys = sorted({tuple(runs[k][i] for k in GROUP) for i in rows}, key=str)
    for key in keys:
        sel = [i for i in rows if tuple(runs[k][i] for k in GROUP) == key]
        yield (
            {k: (v if isinstance(v, str) else float(v)) for k, v in zip(GROUP, key, strict=True)},
            np.asarray(sel),
        )


def stability(runs: dict, rule: str) -> dict:
    """Claim (i): eps_inv and t_inv across seeds (subset 0 of each group), across subsets
    (their means), across optimizers (their means, at one lr and scale) and over all runs of
    a group (seeds and subsets pooled)."""
    out = {"across_seeds": [], "across_subsets": [], "across_optimizers": [], "all_runs": []}
    eps, tinv = np.asarray(runs[f"eps_inv_{rule}"]), np.asarray(runs[f"t_inv_{rule}"])
    sub = np.asarray(runs["subset"])
    for g, rows in groups(runs):
        first = rows[sub[rows] == 0]
        out["across_seeds"].append(
            g
            | {
                "eps_inv": _stats(eps[first]),
                "t_inv": _stats(tinv[first]),
                "no_inversion": int(np.isnan(tinv[first]).sum()),
            }
        )
        out["all_runs"].append(g | {"eps_inv": _stats(eps[rows]), "t_inv": _stats(tinv[rows])})
        subsets = sorted(set(sub[rows]))
        if len(subsets) > 1:
            means = [
                (_nanmean(eps[rows[sub[rows] == s]]), _nanmean(tinv[rows[sub[rows] == s]]))
                for s in subsets
            ]
            e, t = zip(*means, strict=True)
            out["across_subsets"].append(g | {"eps_inv": _stats(e), "t_inv": _stats(t)})
    by_setting: dict = {}
    for g, rows in groups(runs):
        by_setting.setdefault((g["lr"], g["scale"]), []).append(
            (g["optimizer"], _nanmean(eps[rows]), _nanmean(tinv[rows]))
        )
    for (lr, scale), items in by_setting.items():
        if len(items) > 1:
            _, e, t = zip(*items, strict=True)
            out["across_optimizers"].append(
                {
                    "lr": lr,
                    "scale": scale,
                    "optimizers": [i[0] for i in items],
                    "eps_inv": _stats(e),
                    "t_inv": _stats(t),
                }
            )
    return out


def smaller_cv(entries) -> bool | None:
    """Whether eps_inv's CV is below t_inv's in every entry (None: no entry decides)."""
    pairs = [(e["eps_inv"]["cv"], e["t_inv"]["cv"]) for e in entries]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None and b > 0]
    return None if not pairs else all(a < b for a, b in pairs)


def removal(runs: dict) -> dict:
    """Claims (ii), (iii): inversion share and test errors of the retrainings against their
    parents, per group (paired differences: retraining minus parent)."""
    out = []
    for g, base in groups(runs):
        entry = dict(g)
        for phase in ("base", "no_stragglers", "random"):
            rows = base if phase == "base" else _kids(runs, base, phase)
            if not len(rows):
                return {"groups": [], "holds_ii": None, "holds_iii": None}
            parents = np.asarray(runs["parent"])[rows] if phase != "base" else rows
            entry[phase] = {
                "runs": len(rows),
                "removed_mean": float(np.mean(np.asarray(runs["removed"])[rows])),
                **{
                    f"inverted_{r}": _share_finite(np.asarray(runs[f"t_inv_{r}"])[rows])
                    for r in class_stats.RULES
                },
                **{
                    k: _stats(np.asarray(runs[f"final_{k}"])[rows])
                    for k in ("test_error", "noisy_test_error", "train_error")
                },
                **{
                    f"delta_{k}": _stats(
                        np.asarray(runs[f"final_{k}"])[rows]
                        - np.asarray(runs[f"final_{k}"])[parents]
                    )
                    for k in ("test_error", "noisy_test_error")
                },
            }
        out.append(entry)
    ii = [e["no_stragglers"]["inverted_robust"] < e["random"]["inverted_robust"] for e in out]
    iii = [
        abs(e["no_stragglers"]["delta_test_error"]["mean"])
        > abs(e["random"]["delta_test_error"]["mean"])
        for e in out
    ]
    return {
        "groups": out,
        "holds_ii": all(ii) if ii else None,
        "holds_iii": all(iii) if iii else None,
    }


def _share_finite(v) -> float:
    return float(np.mean(np.isfinite(v)))


def _kids(runs, base, phase):
    parent, ph = np.asarray(runs["parent"]), np.asarray(runs["phase"])
    return np.flatnonzero(np.isin(parent, base) & (ph == phase))


def overlap_curves(traj: xr.Dataset, runs: dict, cfg) -> list[dict]:
    """Claim (iv): per group and subset, the median over seed pairs of the overlap z-score
    and Jaccard of S_a(t), S_b(t) at log-spaced snapshots, with the median training error. A
    pair's z counts only where both sets hold >= overlap_min_set points: the z of two tiny
    sets is decided by single coincidences (two equal 1-point sets give z ~ sqrt(n))."""
    n, k = int(traj.attrs["n_train"]), traj.sizes["snapshot"]
    first = max(1, -(-cfg.burn_in // cfg.snapshot_every))  # from the burn-in, as t_inv
    ks = np.unique(np.geomspace(first, k - 1, cfg.overlap_points).round().astype(int))
    sub, out = np.asarray(runs["subset"]), []
    for g, rows in groups(runs):
        for s in sorted(set(sub[rows])):
            members = rows[sub[rows] == s]
            if len(members) < 2:
                continue
            miss = {r: class_stats.unpack(traj["miss_bits"].values[r][ks], n) for r in members}
            z, jac = [], []
            for a, b in itertools.combinations(members, 2):
                o = [class_stats.overlap(miss[a][i], miss[b][i]) for i in range(len(ks))]
                big = np.minimum(miss[a].sum(axis=1), miss[b].sum(axis=1)) >= cfg.overlap_min_set
                z.append(np.where(big, [x["z"] for x in o], np.nan))
                jac.append([x["jaccard"] for x in o])
            err = np.median(traj["train_error"].values[members][:, ks], axis=0)
            z_med = _nanmedian(np.asarray(z, float), axis=0)
            peak = int(np.nanargmax(z_med)) if np.isfinite(z_med).any() else None
            eps = _stats(np.asarray(runs["eps_inv_paper"])[members])["mean"]
            steps = ks * cfg.snapshot_every
            out.append(
                g
                | {
                    "subset": int(s),
                    "pairs": len(z),
                    "step": steps.tolist(),
                    "train_error": err.tolist(),
                    "z_median": z_med.tolist(),
                    "jaccard_median": _nanmedian(np.asarray(jac, float), 0).tolist(),
                    "peak_step": None if peak is None else int(steps[peak]),
                    "peak_train_error": None if peak is None else float(err[peak]),
                    "eps_inv_mean": eps,
                }
            )
    return out
