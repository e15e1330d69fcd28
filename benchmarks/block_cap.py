"""The lane-block cap (``sharding.MAX_BLOCK``) on the default job: its wall time and results.

    python -m benchmarks.block_cap [--caps=8,4,2]

Runs threshold_quick's job once per cap, one after the other, each in a fresh process whose
``sharding.MAX_BLOCK`` is set to the cap (one worker, compilation cache off, figures off).
A vmapped block computes all its lanes while one of them steps, so a larger block wastes more
steps on lanes that are done (a continuation round's open runs take different step counts:
faithful GD steps 1 / lambda_max); a smaller one loses some per-lane speed while every lane is
live. Reports each cap's wall time, the block each chunk ran in, the integrator steps the loops
computed against the steps the runs took, and whether summary.csv and threshold.json are
byte-identical to the first cap's (a block size changes no result unless XLA rounds
differently). Writes benchmarks/block_cap.json and the BLOCK_CAP block of BENCHMARKS.md.
"""

from __future__ import annotations

import datetime
import json
import sys
import tempfile
from pathlib import Path

from absl import app, flags

from alignment.engine import sharding
from alignment.two_layer import grid
from benchmarks import machine
from sweeps.configs import threshold_quick

_CAPS = flags.DEFINE_list("caps", ["8", "4", "2"], "Values of sharding.MAX_BLOCK to compare.")
ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("summary.csv", "threshold.json")
# the job in a process whose cap is argv[1] (the rest: sweeps.run's flags)
CHILD = (
    "import runpy, sys\n"
    "from alignment.engine import sharding\n"
    "sharding.MAX_BLOCK = int(sys.argv[1])\n"
    "sys.argv = ['sweeps.run', *sys.argv[2:]]\n"
    "runpy.run_module('sweeps.run', run_name='__main__')\n"
)


def blocks(cap: int) -> list[int]:
    """The lanes a block runs at once in each of the job's chunks under ``cap``."""
    cfg = threshold_quick.get_config()
    saved, sharding.MAX_BLOCK = sharding.MAX_BLOCK, cap
    try:
        out = []
        for chunk in grid.plan(cfg, grid.expand(cfg)):
            lane_bytes = chunk.program.family.lane_bytes(chunk.program.dtype)
            out.append(sharding.even_block(chunk.lanes, sharding.lanes_at_once(None, lane_bytes)))
        return out
    finally:
        sharding.MAX_BLOCK = saved


def run_job(cap: int, workdir: Path) -> dict:
    """One timed run of the job under ``cap``: wall time and steps of each chunk."""
    cmd = [sys.executable, "-c", CHILD, str(cap), f"--workdir={workdir}", "--workers=1"]
    cmd += ["--compilation_cache_dir=off", "--config.make_figures=False"]
    wall = machine.timed_run(cmd)
    chunks = machine.chunk_steps(workdir)
    return {"cap": cap, "wall_s": wall, "blocks": blocks(cap), "chunks": chunks}


def table(out: dict) -> str:
    m = out["machine"]
    head = (
        f"`python -m benchmarks.block_cap --caps={','.join(str(r['cap']) for r in out['runs'])}`"
        f" on {m['cpu']}, {m['cores']} cores (load {out['load_avg']}), {out['date']}; "
        "threshold_quick, one worker, cache off, figures off, one run after the other:\n\n"
        "| MAX_BLOCK | lanes a block, per chunk | wall (s) | wall / first | steps computed, "
        "per chunk | steps useful, per chunk | computed / useful | results as the first |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    first, rows = out["runs"][0]["wall_s"], []
    for r in out["runs"]:
        comp = ", ".join(f"{c['steps_computed']:.3g}" for c in r["chunks"])
        use = ", ".join(f"{c['steps_useful']:.3g}" for c in r["chunks"])
        waste = ", ".join(f"{c['steps_computed'] / c['steps_useful']:.2f}" for c in r["chunks"])
        same = "yes" if r["same"] else "no"
        rows.append(
            f"| {r['cap']} | {', '.join(map(str, r['blocks']))} | {r['wall_s']:.1f} | "
            f"{r['wall_s'] / first:.3f} | {comp} | {use} | {waste} | {same} |"
        )
    return head + "\n".join(rows)


def main(argv) -> None:
    del argv
    caps = [int(c) for c in _CAPS.value]
    if not caps or min(caps) < 1:
        raise app.UsageError(f"--caps={','.join(_CAPS.value)}: give integers >= 1")
    out = {"machine": machine.machine_info(), "date": datetime.date.today().isoformat()}
    out["runs"] = []
    with tempfile.TemporaryDirectory() as tmp:
        for cap in caps:
            r = run_job(cap, Path(tmp) / str(cap))
            r["same"] = all(
                (Path(tmp) / str(cap) / f).read_bytes()
                == (Path(tmp) / str(caps[0]) / f).read_bytes()
                for f in COMPARED
            )
            out["runs"].append(r)
    out["load_avg"] = machine.load_avg()
    (ROOT / "benchmarks" / "block_cap.json").write_text(json.dumps(out, indent=1) + "\n")
    machine.publish("BLOCK_CAP", table(out))


if __name__ == "__main__":
    app.run(main)
