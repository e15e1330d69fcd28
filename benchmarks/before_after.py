"""The trainer and the default job now against an older revision, measured in one run.

    python -m benchmarks.before_after --rev=e625663     # before the engine issue (families)
    python -m benchmarks.before_after --rev=e625663 --nosweep   # per-step times only
    python -m benchmarks.before_after --rev=25ea7a1 --noshapes --tag="issue 24" \
        --json=benchmarks/before_after_issue24.json   # the default job only, its own block
    python -m benchmarks.before_after --rev=25ea7a1 --noshapes --command \
        --tag="issue 24, README command 1" --json=benchmarks/before_after_issue24_command.json

Per-step time: loads ``git show REV:alignment/engine/train.py`` as a separate module next to the
current one and times the two alternately (same process, same shapes, compile excluded,
several rounds) on the throughput workloads and on the sweep's bucket shapes. Wall and process
CPU time per step are both recorded: on a shared machine the CPU time is the steadier.

W3 (the default job, ``threshold_quick``, cold, compile included; ``before_after_job.py``): the
whole sweep at REV and now, one after the other, with the integrator steps each spent
(computed by the vmapped loops, useful to runs without a verdict: the difference is spent on
decided (frozen) lanes before, on padding copies now); all chunks in one process, or with
``--command`` as README command 1 runs them.
Writes ``benchmarks/before_after.json``.
"""

from __future__ import annotations

import datetime
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from absl import app, flags, logging

from alignment.engine import train
from alignment.runner import provenance, results
from benchmarks import before_after_job, machine, workloads

ROOT = Path(__file__).resolve().parent.parent
# (name, runs, n, d, m, steps per timed call)
SHAPES = (
    ("W1", 64, 512, 10, 100, 300),
    ("W1 in calls of 16 lanes", 16, 512, 10, 100, 1000),
    ("W2", 16, 1000, 100, 1000, 20),
    ("W2 in calls of 4 lanes", 4, 1000, 100, 1000, 40),
    ("sweep bucket n_pad=32", 40, 32, 5, 50, 5000),
    ("sweep bucket n_pad=184", 40, 184, 5, 50, 3000),
)
_REV = flags.DEFINE_string("rev", "e625663", "Git revision of the 'before' code.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Alternating timed calls per trainer and shape.")
_SWEEP = flags.DEFINE_bool("sweep", True, "Also run the default job at both revisions (W3).")
_JSON = flags.DEFINE_string("json", str(ROOT / "benchmarks" / "before_after.json"), "Output.")
_MARKDOWN = flags.DEFINE_string("markdown", str(ROOT / "BENCHMARKS.md"), "Markdown to update.")
_COMMAND = flags.DEFINE_bool(
    "command",
    False,
    "W3 as README command 1 runs the job (python -m sweeps.run, each revision's own process "
    "count, a fresh compilation cache) instead of all chunks in one process.",
)
_SHAPES = flags.DEFINE_bool("shapes", True, "Time the per-step shapes (--noshapes: W3 only).")
_TAG = flags.DEFINE_string(
    "tag", "", "Names a block of its own in the markdown (e.g. the issue): another comparison."
)
BEGIN = "<!-- BEGIN BEFORE_AFTER{} (benchmarks/before_after.py) -->"
END = "<!-- END BEFORE_AFTER{} -->"


_FLAT_MODULES = {
    "from alignment import extremal, model, sharding, stats": (
        "from alignment.engine import sharding\n"
        "from alignment.two_layer import extremal, model, stats"
    ),
    "from alignment.data import": "from alignment.two_layer.data import",
}


def _show(rev: str, path: str) -> str:
    """The text of ``path`` at ``rev`` ('' where the revision has no such file)."""
    out = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else ""


def load_revision(rev: str):
    """The trainer at ``rev`` (alignment/engine/train.py, or alignment/train.py before the
    packages) as a module of its own."""
    text = _show(rev, "alignment/engine/train.py") or _show(rev, "alignment/train.py")
    # a revision before the packages imports flat modules: point them at their new places
    for old, new in _FLAT_MODULES.items():
        text = text.replace(old, new)
    path = Path(tempfile.mkdtemp(prefix="train_before_")) / "train_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("train_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_before"] = mod
    spec.loader.exec_module(mod)
    return mod


def compare(trainers: dict, runs: int, n: int, d: int, m: int, steps: int, rounds: int) -> dict:
    """Median wall and CPU ms per step of each trainer, timed alternately."""
    w = workloads.Workload("cmp", runs=runs, n=n, d=d, m=m, steps=steps)
    states, t_end = {}, w.lr
    for name, mod in trainers.items():  # warm-up: compile, one step
        prog, lanes = w.program(mod), w.lanes(mod)
        state, ctx = mod.init_runs(prog, lanes)
        state, _ = workloads.train_call(mod, prog, state, ctx, np.array([0.0, w.lr]), lanes)
        states[name] = (jax.block_until_ready(state), ctx, prog, lanes)
    times = {name: {"wall": [], "cpu": []} for name in trainers}
    for _ in range(rounds):
        grid = np.array([t_end, t_end + w.lr * steps])
        t_end = grid[-1]
        for name, mod in trainers.items():
            state, ctx, prog, lanes = states[name]
            t0, c0 = time.perf_counter(), time.process_time()
            state, snaps = workloads.train_call(mod, prog, state, ctx, grid, lanes)
            jax.block_until_ready((state, snaps))
            times[name]["wall"].append((time.perf_counter() - t0) / steps * 1e3)
            times[name]["cpu"].append((time.process_time() - c0) / steps * 1e3)
            states[name] = (state, ctx, prog, lanes)
    out = {
        name: {f"{k}_ms_per_step": float(np.median(v)) for k, v in t.items()}
        for name, t in times.items()
    }
    b, a = out["before"], out["after"]
    out["speedup_wall"] = b["wall_ms_per_step"] / a["wall_ms_per_step"]
    out["speedup_cpu"] = b["cpu_ms_per_step"] / a["cpu_ms_per_step"]
    out["shape"] = {"runs": runs, "n": n, "d": d, "m": m, "steps_per_call": steps}
    return out


def markdown_table(res: dict) -> str:
    """The before/after tables of BENCHMARKS.md, from before_after.json content."""
    after = res.get("rev_after") or "this checkout"
    lines = [f"Before: revision `{res['rev_before']}`; after: `{after}`."]
    m = res["machine"]
    lines += ["", f"On {m['cpu']}, {m['cores']} cores."]
    if res["shapes"]:
        lines += [
            "Median of alternating timings, ms per step (wall; CPU time in the json).",
            "",
            "| shape | before | after | speedup (wall / CPU time) | load (1 min) |",
            "|---|---|---|---|---|",
        ]
    for name, r in res["shapes"].items():
        lines.append(
            f"| {name} | {r['before']['wall_ms_per_step']:.4g} | "
            f"{r['after']['wall_ms_per_step']:.4g} | {r['speedup_wall']:.2f}x / "
            f"{r['speedup_cpu']:.2f}x | {r['load_avg'][0]} |"
        )
    w3 = res.get("W3")
    if w3:
        lines += [
            "",
            "W3, the default job (`threshold_quick`, cold, compile included, one after the other, "
            f"{w3.get('mode', 'one process')}; load {w3.get('load_avg')}):",
            "",
            "| code | wall s | steps computed | steps of undecided runs | steps on decided lanes "
            "or padding | verdicts |",
            "|---|---|---|---|---|---|",
        ]
        for k in ("before", "after"):
            r = w3[k]
            verdicts = ", ".join(f"{v} {c}" for v, c in r["verdicts"].items())
            lines.append(
                f"| {k} | {r['wall_s']:.1f} | {r['steps_computed']:,} | {r['steps_useful']:,} "
                f"| {r['steps_wasted']:,} ({r['steps_wasted'] / r['steps_computed']:.0%}) "
                f"| {verdicts} |"
            )
        lines += [
            "",
            f"Ratios after / before: wall {w3['wall_ratio_after_over_before']:.2f}, steps "
            f"computed {w3['computed_ratio_after_over_before']:.2f}.",
        ]
    lines += [
        "",
        f"Measured {res['measured_at']}; `{Path(res['json']).name}` has every number.",
    ]
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    trainers = {"before": load_revision(_REV.value), "after": train} if _SHAPES.value else {}
    res = {"rev_before": _REV.value, "machine": machine.machine_info(), "shapes": {}}
    res["rev_after"] = provenance.git_revision()
    for name, *shape in SHAPES if _SHAPES.value else ():
        load = machine.load_avg()
        res["shapes"][name] = compare(trainers, *shape, _ROUNDS.value) | {"load_avg": load}
        logging.info("%s: %s", name, res["shapes"][name])
    if _SWEEP.value:
        w3 = before_after_job.compare_sweeps(_REV.value, _COMMAND.value)
        res["W3"] = w3 | {"load_avg": machine.load_avg()}
    res["measured_at"] = datetime.datetime.now().isoformat(timespec="seconds")
    res["json"] = str(_JSON.value)
    results.write_json(_JSON.value, res)
    tag = f" {_TAG.value}" if _TAG.value else ""
    machine.replace_block(_MARKDOWN.value, BEGIN.format(tag), END.format(tag), markdown_table(res))
    for name, r in res["shapes"].items():
        print(
            f"{name:24s} before {r['before']['wall_ms_per_step']:8.3f} ms/step  after "
            f"{r['after']['wall_ms_per_step']:8.3f}  speedup {r['speedup_wall']:.2f}x wall, "
            f"{r['speedup_cpu']:.2f}x cpu  (load {r['load_avg'][0]})"
        )
    if "W3" in res:
        w3 = res["W3"]
        for k in ("before", "after"):
            print(
                f"W3 {k}: {w3[k]['wall_s']:.1f} s, steps computed {w3[k]['steps_computed']}, "
                f"useful {w3[k]['steps_useful']}, {w3[k]['verdicts']}"
            )


if __name__ == "__main__":
    app.run(main)
