"""How well a run's recent loss decay forecasts its interpolation time, against the whole decade's.

    python -m benchmarks.interp_forecast --workdirs=[LABEL=]runs/threshold_wide[,...] [--at=2.5e4]

At ``--at`` (default: each workdir's ``time_cap``, where the verdict loop picks the runs it
continues to ``escape_cap``) every run still above its interpolation tolerance gets the
power-law forecast ``forecast.interpolation_time`` of two windows: the last decade (the rule
before) and the last ``forecast.FORECAST_DECADES`` of a decade (the rule now), from its
snapshots up to ``--at`` alone. A run that went on and interpolated has a true time (its record's
end); the table gives forecast / true for each window, and per workdir how many open runs each
window forecasts by ``escape_cap`` and how many of those the verdict loop did not continue
settle into a certified minimum by then (``forecast.settling_time``). Reads finished workdirs
(trajectories.nc, else their chunk files); trains nothing. Writes
benchmarks/interp_forecast.json and the INTERP_FORECAST block.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from absl import app, flags

from alignment.runner import results
from alignment.two_layer.verdict import forecast, tolerances
from alignment.two_layer.verdict import verdicts as vd
from benchmarks import machine
from sweeps import merge

WINDOWS = {"decade": 1.0, "recent": forecast.FORECAST_DECADES}

FLAGS = flags.FLAGS
flags.DEFINE_list("workdirs", None, "finished threshold workdirs to read, each LABEL=DIR or DIR")
flags.DEFINE_float("at", 0.0, "the time of the forecast (0: each workdir's time_cap)")


def datasets(workdir) -> list[xr.Dataset]:
    """The workdir's merged trajectories, or its finished chunks one by one."""
    path = Path(workdir) / "trajectories.nc"
    if path.exists():
        return [xr.load_dataset(path)]
    return [results.load_chunk(Path(workdir), i) for i in results.finished_chunks(Path(workdir))]


def forecasts(ds: xr.Dataset, at: float, tol) -> list[dict]:
    """One row per run open at ``at``: recorded up to it, above its tolerance there and not
    called stuck there."""
    times, loss = ds.time.values.astype(np.float64), ds.loss.values.astype(np.float64)
    loss_tol = tolerances.interp_tol(loss[:, 0], tol)
    seen = np.isfinite(times) & (times <= at * (1 + 1e-9))
    t_f = np.max(np.where(seen, times, -np.inf), axis=1)
    last = np.where(seen & (times == t_f[:, None]), loss, -np.inf).max(axis=1)
    t_end = np.nanmax(times, axis=1)
    is_open = (t_f >= at * (1 - 1e-9)) & (last >= loss_tol)
    won = np.asarray(ds.verdict.values).astype(str) == "interpolating"
    pred, anchor = {}, {}
    for name, decades in WINDOWS.items():
        anchor[name] = forecast.recent_anchor(times, loss, seen, t_f, 1e-3, decades)
        pred[name] = forecast.interpolation_time(t_f, last, *anchor[name], loss_tol)
    settle = settling(ds, t_f, last, anchor["recent"], tol)
    ended = t_end <= at * (1 + 1e-9)  # not continued: its certificates are those at ``at``
    is_open &= ~(ended & np.isin(ds.verdict.values.astype(str), ["stuck", "diverged"]))
    rows = []
    for r in np.flatnonzero(is_open):
        row = {"n": int(ds.n.values[r]), "seed": int(ds.seed.values[r])}
        row["true"] = float(t_end[r]) if won[r] and t_end[r] > at else None
        row["settle"] = float(settle[r]) if ended[r] else None
        rows.append(row | {name: float(p[r]) for name, p in pred.items()})
    return rows


def settling(ds, t_f, last, recent, tol) -> np.ndarray:
    """(R,) ``forecast.settling_time`` from the recorded region minimum where that minimum is
    certified a local minimum of the whole loss (no kink gain, no growth at the polished
    point: what ``rounds.near_end`` asks of a settling run), inf elsewhere; ``recent`` is the
    (time, loss) anchor of the recent window."""
    d = {"final_time": t_f, "final_loss": last, "recent_time": recent[0], "recent_loss": recent[1]}
    t = forecast.settling_time(d, ds.region_min.values, tol.gap_tol)
    with np.errstate(invalid="ignore"):
        kink_free = ~(ds.kink_max.values > tol.kink_tol)
        certified = kink_free & (ds.polish_kappa.values <= tol.kappa_tol)
    return np.where(certified, t, np.inf)


def run(workdirs, at: float) -> dict:
    out = []
    for entry in workdirs:
        label, _, workdir = entry.rpartition("=")
        cfg = merge.load_config(workdir)
        tol = vd.VerdictTolerances.from_config(cfg.verdict)
        t = at or float(cfg.time_cap)
        rows = [row for ds in datasets(workdir) for row in forecasts(ds, t, tol)]
        label = label or str(workdir)
        out.append({"workdir": label, "at": t, "cap": float(cfg.escape_cap), "rows": rows})
    return {"machine": machine.machine_info(), "workdirs": out}


def summary(w: dict) -> str:
    rows, cap = w["rows"], w["cap"]
    by_cap = {k: sum(r[k] <= cap for r in rows) for k in WINDOWS}
    settles = sum(r["settle"] is not None and r["settle"] <= cap for r in rows)
    known = [r for r in rows if r["true"] is not None]
    ratio = {k: [r[k] / r["true"] for r in known] for k in WINDOWS}
    med = {k: f"{np.median(v):.2g}" if v else "-" for k, v in ratio.items()}
    return (
        f"| {w['workdir']} | {w['at']:.3g} | {len(rows)} | {by_cap['decade']} | "
        f"{by_cap['recent']} | {settles} | {len(known)} | {med['decade']} | {med['recent']} |"
    )


def table(res: dict) -> str:
    lines = [
        "`python -m benchmarks.interp_forecast`: runs open at the forecast time `at`; how many "
        "each window forecasts by escape_cap, and forecast / true for those that went on and "
        "interpolated (median)",
        "",
        "| workdir | at | open | by cap: decade | by cap: recent | settling by cap | true known "
        "| decade / true | recent / true |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [summary(w) for w in res["workdirs"]]
    head = "| workdir | n | seed | true | decade | recent | settle (certified minimum) |"
    lines += ["", head, "|---|---|---|---|---|---|---|"]
    for w in res["workdirs"]:
        for r in w["rows"]:
            settle = r["settle"] if r["settle"] is not None else np.inf
            if r["true"] is None and not min(r["decade"], r["recent"], settle) < np.inf:
                continue  # no forecast, no true time: a stuck run or a saddle
            true = "-" if r["true"] is None else f"{r['true']:.3g}"
            settle = "-" if r["settle"] is None else f"{r['settle']:.3g}"
            lines.append(
                f"| {w['workdir']} | {r['n']} | {r['seed']} | {true} | {r['decade']:.3g} "
                f"| {r['recent']:.3g} | {settle} |"
            )
    return "\n".join(lines)


def main(argv):
    del argv
    if not FLAGS.workdirs:
        raise app.UsageError("--workdirs: give at least one finished threshold workdir")
    res = run(FLAGS.workdirs, FLAGS.at)
    results.write_json("benchmarks/interp_forecast.json", res)
    machine.publish("INTERP_FORECAST", table(res))


if __name__ == "__main__":
    app.run(main)
