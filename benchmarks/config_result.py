"""The measured numbers of a threshold config's docstring, from one run of its real command.

    python -m benchmarks.config_result --config=tiny [--set=dtype=float64 ...]
    python -m benchmarks.config_result --workdir=runs/threshold_wide

Runs ``python -m sweeps.run --config=sweeps/configs/CONFIG.py`` into a fresh folder (timed:
compiles, certificates and figures included), then prints the Runtime and Result lines a
config's docstring gives: the verdicts and the criterion that decided each, per n; n* with its
interval, both readings of the runs without a verdict and the interval covering both; n*(T) per
decade and whether it has settled; the largest eta * lambda_max, per n; each run without a
verdict with the numbers that left it open. Config docstrings quote these lines; rerun this to
refresh them. With ``--workdir`` it reads a workdir instead (a long job run by hand, e.g.
split over processes with ``--chunks``) and trains nothing: no Runtime line, but each chunk's
steps (those its vmapped loops computed, those its runs took); of a job not finished, the
verdicts of its finished chunks, without n*.
"""

from __future__ import annotations

import collections
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
from absl import app, flags

from alignment.runner import results
from alignment.two_layer import grid, records, report
from alignment.two_layer.verdict import verdicts as vd
from benchmarks import machine
from sweeps import merge

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags (defined on running it, so that importing this module for its
    functions leaves other benchmarks' flags of the same names alone)."""
    flags.DEFINE_string("config", "tiny", "Config module in sweeps/configs.")
    flags.DEFINE_multi_string("set", [], "FIELD=VALUE overrides (--config.FIELD=VALUE).")
    flags.DEFINE_string(
        "workdir", None, "Describe this finished workdir (summary.csv, threshold.json) instead."
    )
    flags.DEFINE_bool(
        "cache",
        False,
        "Run twice into fresh folders with one new persistent compilation cache: the Runtime "
        "line then gives the cold and the warm wall time.",
    )


def _bound(v, side: str) -> str:
    return f"{side} the range" if v is None else f"{v:.3g}"


def _interval(lo, hi) -> str:
    return f"[{_bound(lo, 'below')}, {_bound(hi, 'above')}]"


def _estimate(e: dict) -> str:
    if e["n_star"] is None:
        return f"not resolved ({e['reason']})"
    return f"{e['n_star']:.3g} {_interval(e['ci_low'], e['ci_high'])}"


def describe(summary: pd.DataFrame, threshold: dict) -> list[str]:
    """The Result lines of every group of a finished workdir."""
    lines = []
    verdicts = collections.Counter(summary["verdict"])
    criteria = collections.Counter(summary["verdict"] + "/" + summary["decided_by"])
    lines.append(f"{len(summary)} runs: {dict(sorted(verdicts.items()))}")
    lines.append(f"verdict/criterion: {dict(sorted(criteria.items()))}")
    if "max_step_sharpness" in summary:
        lines.append(f"largest eta * lambda_max: {summary['max_step_sharpness'].max():.3g}")
        per_n = summary.groupby("n")["max_step_sharpness"].max()
        lines.append("  per n: " + ", ".join(f"{n}: {v:.3g}" for n, v in per_n.items()))
    for g in threshold["groups"]:
        lines.append(f"[{g['sweep']}] per n, verdict/criterion:")
        lines += per_n_lines(g.get("decided_by_n", []))
        lines.append(f"  n* = {_estimate(g)}")
        if g.get("without_verdict"):
            both = g["interval_both"]
            lines.append(
                f"  {g['without_verdict']} without a verdict: as interpolating "
                f"{_estimate(g['if_interpolating'])}, as not {_estimate(g['if_stuck'])}; "
                f"covering both {_interval(both['ci_low'], both['ci_high'])}"
            )
        by_t = [f"{_estimate(e)} at T = {e['T']:g}" for e in g.get("n_star_by_time", [])]
        lines.append("  n*(T): " + "; ".join(by_t))
        state = g.get("n_star_by_time_state", {}).get("state")
        lines.append(f"  n*(T) by the longest T: {state}")
    return lines + open_runs(summary)


def per_n_lines(table: list[dict]) -> list[str]:
    """The rows of ``report.decided_by_table`` (n, then 'verdict/criterion': runs)."""
    return ["  " + ", ".join(f"{k}: {v}" for k, v in row.items()) for row in table]


OPEN_COLUMNS = ("final_time", "train_loss", "region_min", "region_gap", "polish_dist")
OPEN_COLUMNS += ("interp_time", "predicted_escape_time", "settle_time", "budget_stop")


def open_runs(summary: pd.DataFrame) -> list[str]:
    """One line per run without a verdict (undetermined, saddle): what left it open."""
    rows = summary[summary["verdict"].isin(vd.OPEN)]
    lines = [f"{len(rows)} of {len(summary)} runs without a verdict"]
    for _, r in rows.sort_values(["n", "seed"]).iterrows():
        nums = ", ".join(f"{k} {r[k]:.3g}" for k in OPEN_COLUMNS if k in r and pd.notna(r[k]))
        lines.append(f"  n = {r['n']}, seed {r['seed']}: {r['verdict']}/{r['decided_by']}; {nums}")
    return lines


def chunk_steps(chunks: dict) -> list[str]:
    """Each finished chunk's n and its steps (``machine.steps_of``); ``chunks``: index ->
    its dataset."""
    lines = []
    for index, ds in chunks.items():
        n = sorted({int(v) for v in ds.n.values})
        steps = ", ".join(f"{k} {v:.3g}" for k, v in machine.steps_of(ds).items())
        lines.append(f"  chunk {index} (n = {', '.join(map(str, n))}): {steps}")
    return lines


def partial_summary(chunks: dict) -> pd.DataFrame:
    """summary.csv's rows of the finished chunks (index -> dataset) of an unfinished job."""
    frames = []
    for ds in chunks.values():
        columns = records.summary_columns(ds, grid.RUN_COLUMNS)
        frames.append(pd.DataFrame(records.summary_table(ds, columns)))
    return pd.concat(frames, ignore_index=True)


def describe_partial(workdir: Path, chunks: dict) -> list[str]:
    """The Result lines a workdir's finished chunks give before its job ends: the verdicts
    per n, not n* (which needs every n)."""
    cfg = merge.load_config(workdir)
    total = len(grid.plan(cfg, grid.expand(cfg)))
    summary = partial_summary(chunks)
    head = f"partial: {len(chunks)} of {total} chunks finished, no n*"
    lines = [head, *describe(summary, {"groups": []}), "per n, verdict/criterion:"]
    return lines + per_n_lines(report.decided_by_table(summary))


def describe_workdir(workdir: Path) -> list[str]:
    """The Result lines of a workdir (finished, else :func:`describe_partial`), and its
    chunks' steps; each chunk file is read once."""
    chunks = {i: results.load_chunk(workdir, i) for i in results.finished_chunks(workdir)}
    if not (workdir / "threshold.json").exists():
        return describe_partial(workdir, chunks) + ["chunks:"] + chunk_steps(chunks)
    summary = pd.read_csv(workdir / "summary.csv")
    threshold = json.loads((workdir / "threshold.json").read_text())
    return describe(summary, threshold) + ["chunks:"] + chunk_steps(chunks)


def main(argv) -> None:
    del argv
    if FLAGS.workdir:
        workdir = Path(FLAGS.workdir)
        if not results.finished_chunks(workdir):
            raise app.UsageError(f"--workdir={workdir}: no finished chunk (not a job's workdir)")
        print(f"Result: (measured, from {workdir})")
        for line in describe_workdir(workdir):
            print("  " + line)
        return
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "sweeps.run", f"--config=sweeps/configs/{FLAGS.config}.py"]
        cmd += [f"--config.{s}" for s in FLAGS.set]
        if FLAGS.cache:
            cmd += [f"--compilation_cache_dir={tmp}/cache"]
            cold = machine.timed_run([*cmd, f"--workdir={tmp}/cold"])
        else:  # a cold start: not the user's persistent cache, which is on by default
            cmd += ["--compilation_cache_dir=off"]
        seconds = machine.timed_run([*cmd, f"--workdir={tmp}/run"])
        summary = pd.read_csv(Path(tmp) / "run" / "summary.csv")
        threshold = json.loads((Path(tmp) / "run" / "threshold.json").read_text())
    info = machine.machine_info()
    where = f"(measured, {info['cpu']}, {info['cores']} cores)"
    if FLAGS.cache:
        print(f"Runtime: {where} {cold:.1f} s cold, {seconds:.1f} s with the cache warm")
    else:
        print(f"Runtime: {where} {seconds:.0f} s")
    print("Result: (measured)")
    for line in describe(summary, threshold):
        print("  " + line)


if __name__ == "__main__":
    define_flags()
    app.run(main)
