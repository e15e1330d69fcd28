"""What stopping interpolated runs saves: a threshold job with ``stop_interpolated`` on and off.

    python -m benchmarks.stop_interpolated --config=threshold_quick

Runs ``python -m sweeps.run`` on the config twice into fresh folders, one after the other
(persistent compilation cache off, figures off, one worker process: the two runs see the same
machine), first with interpolated runs stopping (the default), then with every run stepping to
the end of its round. Reports each wall time and their ratio, the integrator steps the vmapped
loops executed (``steps_computed``: lanes x a block's longest lane, the cost) and the runs took
(``steps_useful``), every run whose verdict or deciding criterion differs between the two, and
n* with its covering interval. Writes ``benchmarks/stop_interpolated_CONFIG.json``.
"""

from __future__ import annotations

import datetime
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import xarray as xr
from absl import app, flags

from benchmarks import machine

_CONFIG = flags.DEFINE_string("config", "threshold_quick", "Config module in sweeps/configs.")
ROOT = Path(__file__).resolve().parent.parent


def run_job(config: str, stop: bool, workdir: Path) -> dict:
    """One timed run of the job; its wall time, step counts, verdicts and n*."""
    cmd = [sys.executable, "-m", "sweeps.run", f"--config=sweeps/configs/{config}.py"]
    cmd += [f"--workdir={workdir}", "--workers=1", "--compilation_cache_dir=off"]
    cmd += ["--config.make_figures=False", f"--config.stop_interpolated={stop}"]
    wall = machine.timed_run(cmd)
    steps = {k: 0 for k in ("steps_computed", "steps_useful")}
    for chunk in sorted((workdir / "chunks").glob("*.nc")):
        with xr.open_dataset(chunk) as ds:
            for k in steps:
                steps[k] += int(ds.attrs[k])
    summary = pd.read_csv(workdir / "summary.csv")
    (group,) = json.loads((workdir / "threshold.json").read_text())["groups"]
    est = {k: group.get(k) for k in ("n_star", "ci_low", "ci_high", "interval_both")}
    return {
        "wall_s": wall,
        **steps,
        "open": int(summary["verdict"].isin(["undetermined", "saddle"]).sum()),
        "verdicts": summary.set_index("run")[["n", "seed", "verdict", "decided_by"]],
        "estimate": est,
    }


def table(out: dict) -> str:
    """The BENCHMARKS.md block of one measurement."""
    m = out["machine"]
    head = (
        f"`python -m benchmarks.stop_interpolated --config={out['config']}` on {m['cpu']}, "
        f"{m['cores']} cores (load {out['load_avg']}), {out['date']}; one worker, cache off, "
        "figures off, the two runs one after the other:\n\n"
        "| stop_interpolated | wall (s) | steps computed | steps useful | open | n* | covering |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for key, label in (("stop", "True"), ("no_stop", "False")):
        r, e = out[key], out[key]["estimate"]
        star = "-" if e["n_star"] is None else f"{e['n_star']:.3g}"
        both = e.get("interval_both") or [None, None]
        cover = "[" + ", ".join("-" if v is None else f"{v:.3g}" for v in both) + "]"
        rows.append(
            f"| {label} | {r['wall_s']:.1f} | {r['steps_computed']:.3g} | "
            f"{r['steps_useful']:.3g} | {r['open']} | {star} | {cover} |"
        )
    tail = (
        f"\n\nRatios (True / False): wall {out['wall_ratio_stop_over_no_stop']:.3f}, steps "
        f"computed {out['computed_ratio_stop_over_no_stop']:.3f}. Runs whose verdict or "
        f"criterion differs: {len(out['runs_that_differ'])}."
    )
    return head + "\n".join(rows) + tail


def main(argv) -> None:
    del argv
    out = {"config": _CONFIG.value, "machine": machine.machine_info()}
    out |= {"load_avg": machine.load_avg(), "date": datetime.date.today().isoformat()}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {s: run_job(_CONFIG.value, s, Path(tmp) / str(s)) for s in (True, False)}
    on, off = runs[True]["verdicts"], runs[False]["verdicts"]
    differ = on.index[(on["verdict"] != off["verdict"]) | (on["decided_by"] != off["decided_by"])]
    for key, stop in (("stop", True), ("no_stop", False)):
        r = runs[stop]
        out[key] = {k: r[k] for k in ("wall_s", "steps_computed", "steps_useful", "open")}
        out[key]["estimate"] = r["estimate"]
    out["wall_ratio_stop_over_no_stop"] = runs[True]["wall_s"] / runs[False]["wall_s"]
    out["computed_ratio_stop_over_no_stop"] = (
        runs[True]["steps_computed"] / runs[False]["steps_computed"]
    )
    out["runs_that_differ"] = [
        {
            "n": int(on.loc[i, "n"]),
            "seed": int(on.loc[i, "seed"]),
            "stop": f"{on.loc[i, 'verdict']}/{on.loc[i, 'decided_by']}",
            "no_stop": f"{off.loc[i, 'verdict']}/{off.loc[i, 'decided_by']}",
        }
        for i in differ
    ]
    path = ROOT / "benchmarks" / f"stop_interpolated_{_CONFIG.value}.json"
    path.write_text(json.dumps(out, indent=1, default=str) + "\n")
    machine.publish(f"STOP_INTERPOLATED {_CONFIG.value}", table(out))


if __name__ == "__main__":
    app.run(main)
