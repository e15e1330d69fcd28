"""A threshold job under two settings, one after the other: what a setting costs and changes.

    python -m benchmarks.settings --config=threshold_quick --b=stop_interpolated=False
    python -m benchmarks.settings --config=threshold_quick --b=round_steps=6e5

Runs ``python -m sweeps.run`` on the config twice into fresh folders (persistent compilation
cache off, figures off, one worker process: the two runs see the same machine), first with the
overrides ``--a`` (default: none, the config as it is), then with ``--b``. Reports each wall
time and their ratio, the integrator steps the vmapped loops executed (``steps_computed``:
lanes x a block's longest lane, the cost) and the runs took (``steps_useful``), the runs
without a verdict, every run whose verdict or deciding criterion differs between the two, and
n* with its covering interval. Writes ``benchmarks/settings_CONFIG_B.json`` and a marked block
of BENCHMARKS.md.
"""

from __future__ import annotations

import datetime
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
from absl import app, flags

from alignment.two_layer.verdict import verdicts
from benchmarks import machine

_CONFIG = flags.DEFINE_string("config", "threshold_quick", "Config module in sweeps/configs.")
_A = flags.DEFINE_multi_string("a", [], "FIELD=VALUE overrides of the first run (default none).")
_B = flags.DEFINE_multi_string("b", [], "FIELD=VALUE overrides of the second run.")
ROOT = Path(__file__).resolve().parent.parent


def run_job(config: str, overrides: list[str], workdir: Path) -> dict:
    """One timed run of the job; its wall time, step counts, verdicts and n*."""
    cmd = [sys.executable, "-m", "sweeps.run", f"--config=sweeps/configs/{config}.py"]
    cmd += [f"--workdir={workdir}", "--workers=1", "--compilation_cache_dir=off"]
    cmd += ["--config.make_figures=False", *[f"--config.{o}" for o in overrides]]
    wall = machine.timed_run(cmd)
    per_chunk = machine.chunk_steps(workdir)
    steps = {k: sum(c[k] for c in per_chunk) for k in ("steps_computed", "steps_useful")}
    summary = pd.read_csv(workdir / "summary.csv")
    (group,) = json.loads((workdir / "threshold.json").read_text())["groups"]
    est = {k: group.get(k) for k in ("n_star", "ci_low", "ci_high", "interval_both")}
    return {
        "wall_s": wall,
        **steps,
        "open": int(summary["verdict"].isin(verdicts.OPEN).sum()),
        "verdicts": summary.set_index("run")[["n", "seed", "verdict", "decided_by"]],
        "estimate": est,
    }


def _label(overrides: list[str]) -> str:
    return " ".join(overrides) or "as configured"


def table(out: dict) -> str:
    """The BENCHMARKS.md block of one measurement."""
    m = out["machine"]
    args = [f"--config={out['config']}"]
    args += [f"--{k}={o}" for k in ("a", "b") for o in out[k]["overrides"]]
    head = (
        f"`python -m benchmarks.settings {' '.join(args)}` on "
        f"{m['cpu']}, {m['cores']} cores (load {out['load_avg']}), {out['date']}; one worker, "
        "cache off, figures off, the two runs one after the other:\n\n"
        "| setting | wall (s) | steps computed | steps useful | open | n* | covering |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for key in ("a", "b"):
        r, e = out[key], out[key]["estimate"]
        star = "-" if e["n_star"] is None else f"{e['n_star']:.3g}"
        both = e.get("interval_both") or {}
        ends = (both.get("ci_low"), both.get("ci_high"))
        cover = "[" + ", ".join("-" if v is None else f"{v:.3g}" for v in ends) + "]"
        rows.append(
            f"| {_label(r['overrides'])} | {r['wall_s']:.1f} | {r['steps_computed']:.3g} | "
            f"{r['steps_useful']:.3g} | {r['open']} | {star} | {cover} |"
        )
    differ = "; ".join(f"n={d['n']} seed {d['seed']}: {d['a']} -> {d['b']}" for d in out["differ"])
    tail = (
        f"\n\nRatios (second / first): wall {out['wall_ratio']:.3f}, steps computed "
        f"{out['computed_ratio']:.3f}. Runs whose verdict or criterion differs: "
        f"{len(out['differ'])}{': ' + differ if differ else ''}."
    )
    return head + "\n".join(rows) + tail


def main(argv) -> None:
    del argv
    out = {"config": _CONFIG.value, "machine": machine.machine_info()}
    out |= {"load_avg": machine.load_avg(), "date": datetime.date.today().isoformat()}
    settings = {"a": list(_A.value), "b": list(_B.value)}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {k: run_job(_CONFIG.value, o, Path(tmp) / k) for k, o in settings.items()}
    va, vb = runs["a"]["verdicts"], runs["b"]["verdicts"]
    differ = va.index[(va["verdict"] != vb["verdict"]) | (va["decided_by"] != vb["decided_by"])]
    for key, r in runs.items():
        out[key] = {k: r[k] for k in ("wall_s", "steps_computed", "steps_useful", "open")}
        out[key] |= {"estimate": r["estimate"], "overrides": settings[key]}
    out["wall_ratio"] = runs["b"]["wall_s"] / runs["a"]["wall_s"]
    out["computed_ratio"] = runs["b"]["steps_computed"] / runs["a"]["steps_computed"]
    out["differ"] = [
        {
            "n": int(va.loc[i, "n"]),
            "seed": int(va.loc[i, "seed"]),
            "a": f"{va.loc[i, 'verdict']}/{va.loc[i, 'decided_by']}",
            "b": f"{vb.loc[i, 'verdict']}/{vb.loc[i, 'decided_by']}",
        }
        for i in differ
    ]
    name = f"{_CONFIG.value} {' '.join(settings['b'])}".strip()
    path = ROOT / "benchmarks" / f"settings_{name.replace(' ', '_').replace('=', '-')}.json"
    path.write_text(json.dumps(out, indent=1, default=str) + "\n")
    machine.publish(f"SETTINGS {name}", table(out))


if __name__ == "__main__":
    app.run(main)
