"""What a new process spends before and after computing: compiles per program, cold and warm.

    python -m benchmarks.cold_start [--rev=26cfbe7] [--configs=threshold_quick,tiny]

For each config, the README's command (``python -m sweeps.run``) in new processes, each into an
empty workdir, with JAX's compile log on (``JAX_LOG_COMPILES=1``), one after the other:

1. ``before``: the code at ``--rev`` (a temporary git worktree), persistent cache off: the cold
   start as it was (skipped with ``--rev=''``);
2. ``cold``: this checkout with a new, empty persistent compilation cache;
3. ``warm``: this checkout again with that cache (a second run into a new workdir), whose
   verdicts must equal the cold run's (the same programs, loaded instead of compiled);
4. ``warm_1``: the same with ``--workers=1``: every chunk in the command's own process, as
   before the workers (``alignment/runner/workers.py``), to show what they and the cache each buy;
5. ``cold_1``: ``--workers=1`` with another empty cache: the compile work of one process, the
   same kind of count as ``before``'s (workers compiling side by side each compile slower).

With workers, their output reaches the log with a ``[worker i]`` prefix, and the compile
seconds are summed over the processes (compute, not wall time: they compile side by side);
the longest process's own compile seconds are what the job waits for.

Each row: wall seconds of the command, seconds JAX spent tracing, lowering and compiling (or
loading from the cache), and the time after the last chunk (merge, threshold.json, figures),
from the log's timestamps. The cold run's compile log is listed per program (name and lane
count, summed over its compiles). Writes benchmarks/cold_start.json and the COLD_START block
of BENCHMARKS.md.
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from absl import app, flags

from alignment.runner import results
from benchmarks import machine

ROOT = Path(__file__).resolve().parents[1]
_REV = flags.DEFINE_string("rev", "26cfbe7", "Revision of the 'before' row ('': none).")
_CONFIGS = flags.DEFINE_list("configs", ["threshold_quick", "tiny"], "Configs in sweeps/configs.")

_STAMP = re.compile(r"^[IWE]\d{4} (\d\d:\d\d:\d\d\.\d+)")
_PHASES = {
    "tracing": re.compile(r"Finished tracing (?:\+ transforming )?(\S+) for \S+ in ([\d.e-]+) sec"),
    "lowering": re.compile(r"Finished jaxpr to MLIR module conversion \S+\((\S+)\) in ([\d.e-]+)"),
    "compiling": re.compile(r"Finished XLA compilation of \S+\((\S+)\) in ([\d.e-]+) sec"),
}
_SHAPES = re.compile(r"Compiling \S+\((\S+)\) with global shapes and types \(\w+\(\w+\[(\d+)")
_LAST_CHUNK = re.compile(r"progress\.py.*\] chunk (\d+)/(\d+) ")
_WORKER = re.compile(r"^\[worker \d+\] ")


def compile_log(stderr: str) -> dict:
    """Seconds per phase, per program ("name x lanes": its first argument's leading axis),
    and the clock time of the last chunk's progress line, from a run's log."""
    per_program = collections.defaultdict(lambda: {"compiles": 0, "seconds": 0.0})
    totals = dict.fromkeys(_PHASES, 0.0)
    per_process = collections.Counter()  # compile seconds of each process (worker prefix)
    lanes, last_chunk, hits = {}, None, 0  # per process (worker prefix): the pending program
    for text in stderr.splitlines():
        tag = _WORKER.match(text)
        who, line = (tag.group(0), text[tag.end() :]) if tag else ("", text)
        if shape := _SHAPES.search(line):
            lanes[who] = f"{shape.group(1)} x {shape.group(2)}"
        hits += "Persistent compilation cache hit" in line
        for phase, pattern in _PHASES.items():
            if found := pattern.search(line):
                totals[phase] += float(found.group(2))
                per_process[who] += float(found.group(2))
                if phase == "compiling":
                    entry = per_program[lanes.pop(who, "") or found.group(1)]
                    entry["compiles"] += 1
                    entry["seconds"] += float(found.group(2))
        chunk = _LAST_CHUNK.search(line)
        if chunk and chunk.group(1) == chunk.group(2):
            last_chunk = _STAMP.match(line).group(1)
    return {
        "phases_s": totals,
        "compile_s": sum(totals.values()),
        "longest_process_compile_s": max(per_process.values(), default=0.0),
        "programs": dict(per_program),
        "cache_hits": hits,
        "last_chunk_clock": last_chunk,
    }


def run_job(src: Path, config: str, workdir: Path, cache: str, *extra: str) -> dict:
    """The README command from ``src`` into ``workdir``: wall time, compile log, verdicts."""
    cmd = [sys.executable, "-m", "sweeps.run", f"--config=sweeps/configs/{config}.py"]
    cmd += [f"--workdir={workdir}", f"--compilation_cache_dir={cache}", *extra]
    env = dict(os.environ, PYTHONPATH=str(src), JAX_LOG_COMPILES="1")
    start = time.time()
    done = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True)
    end = time.time()
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    log = compile_log(done.stderr)
    after = None
    if log["last_chunk_clock"]:  # the log's clock is this machine's local time of day
        day = datetime.datetime.fromtimestamp(end).date()
        clock = datetime.time.fromisoformat(log.pop("last_chunk_clock"))
        after = end - datetime.datetime.combine(day, clock).timestamp()
    summary = pd.read_csv(workdir / "summary.csv")
    verdicts = (summary["verdict"] + "/" + summary["decided_by"].fillna("")).tolist()
    return log | {"wall_s": end - start, "after_last_chunk_s": after, "verdicts": verdicts}


def worktree(rev: str, where: Path) -> Path:
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(where), rev],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return where


def measure(config: str, rev: str, tmp: Path) -> dict:
    """before (rev, cache off), cold (new cache) and warm (same cache) for one config."""
    out = {}
    if rev:
        out["before"] = run_job(tmp / "src", config, tmp / f"{config}_before", "off")
    cache = tmp / f"{config}_cache"
    out["cold"] = run_job(ROOT, config, tmp / f"{config}_cold", str(cache))
    out["warm"] = run_job(ROOT, config, tmp / f"{config}_warm", str(cache))
    out["warm_1"] = run_job(ROOT, config, tmp / f"{config}_warm_1", str(cache), "--workers=1")
    alone = str(tmp / f"{config}_cache_1")
    out["cold_1"] = run_job(ROOT, config, tmp / f"{config}_cold_1", alone, "--workers=1")
    out["warm_same_verdicts"] = all(
        out[name]["verdicts"] == out["cold"]["verdicts"] for name in ("warm", "warm_1", "cold_1")
    )
    if rev:
        for name in ("cold", "warm", "warm_1", "cold_1"):
            out[f"{name}_over_before"] = out[name]["wall_s"] / out["before"]["wall_s"]
    return out


def _open(verdicts: list[str]) -> int:
    return sum(v.split("/")[0] in ("undetermined", "saddle") for v in verdicts)


def markdown(res: dict) -> str:
    info = res["machine"]
    lines = [
        f"`python -m benchmarks.cold_start --rev={res['rev']}` on {info['cpu']}, "
        f"{info['cores']} cores (load before: {res['load_avg']}). Each row a new process "
        "into an empty workdir; compile = tracing + lowering + XLA compile or cache load.",
        "",
        "| config | run | wall (s) | compile (s) | compile, longest process (s) "
        "| after the last chunk (s) | without a verdict | wall / before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for config, r in res["configs"].items():
        for name in ("before", "cold", "warm", "warm_1", "cold_1"):
            if name not in r:
                continue
            row = r[name]
            ratio = r.get(f"{name}_over_before")
            after = row["after_last_chunk_s"]
            lines.append(
                f"| {config} | {name} | {row['wall_s']:.1f} | {row['compile_s']:.1f} | "
                f"{row['longest_process_compile_s']:.1f} | "
                f"{'' if after is None else f'{after:.1f}'} | {_open(row['verdicts'])} / "
                f"{len(row['verdicts'])} | {'' if ratio is None else f'{ratio:.2f}'} |"
            )
        same = r["warm_same_verdicts"]
        lines.append(f"| {config} | every run's verdicts = cold's | {same} | | | | | |")
    first = next(iter(res["configs"]))
    programs = res["configs"][first]["cold_1"]["programs"]
    lines += [
        "",
        f"Compiles of the cold `{first}` run in one process (`cold_1`), per program (lanes = "
        "its first argument's leading axis), largest first:",
        "",
        "| program x lanes | compiles | seconds |",
        "|---|---|---|",
    ]
    ranked = sorted(programs.items(), key=lambda kv: -kv[1]["seconds"])
    for name, p in ranked[:12]:
        lines.append(f"| {name} | {p['compiles']} | {p['seconds']:.2f} |")
    rest = ranked[12:]
    if rest:
        count = sum(p["compiles"] for _, p in rest)
        seconds = sum(p["seconds"] for _, p in rest)
        lines.append(f"| {len(rest)} other programs | {count} | {seconds:.2f} |")
    return "\n".join(lines)


def main(argv) -> None:
    del argv
    res = {
        "machine": machine.machine_info(),
        "load_avg": machine.load_avg(),
        "rev": _REV.value,
        "configs": {},
    }
    with tempfile.TemporaryDirectory(prefix="cold_start_") as name:
        tmp = Path(name)
        if _REV.value:
            worktree(_REV.value, tmp / "src")
        try:
            for config in _CONFIGS.value:
                res["configs"][config] = measure(config, _REV.value, tmp)
                print(json.dumps({config: res["configs"][config]}, default=str)[:600], flush=True)
        finally:
            if _REV.value:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tmp / "src")],
                    cwd=ROOT,
                    capture_output=True,
                )
    results.write_json(ROOT / "benchmarks" / "cold_start.json", res)
    machine.publish("COLD_START", markdown(res))


if __name__ == "__main__":
    app.run(main)
