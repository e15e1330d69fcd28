"""What idle lanes cost in a lane block: threshold_wide's large lanes, blocked by the cache.

    python -m benchmarks.idle_lanes

threshold_wide's chunk of n = 45 to 91 (40 lanes, n_pad = 184, m = 200, float64): 200 GD steps
with every lane live, 9 live (a continuation round's open runs) and 1 live, with the lane block
``sharding.lanes_at_once`` picks, the block the last-level cache alone allowed (its rule before
the ``MAX_BLOCK`` cap) and blocks of 4 and 1. A vmapped block computes every
lane while one of its lanes steps, so a block larger than the live lanes computes idle ones.
Writes benchmarks/idle_lanes.json and the IDLE_LANES block of BENCHMARKS.md.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np
from absl import app

from alignment.engine import sharding, train
from alignment.runner import results
from alignment.two_layer import grid
from benchmarks import machine
from sweeps.configs import threshold_wide

LIVE = (40, 9, 1)
# "picked": the block lanes_at_once picks; "llc": last-level cache // lane bytes, the block it
# picked for lanes too large for L2 before MAX_BLOCK capped it
BLOCKS = ("picked", "llc", 4, 1)


def timed(prog, lanes, live: int, t_end: float = 50.0) -> float:
    """Seconds for the lanes to go from t = 0 to t_end (200 steps at lr 0.25), ``live`` of them
    stepping, after a compile."""
    state, ctx = jax.block_until_ready(train.init_runs(prog, lanes))  # not timed
    active = np.arange(len(lanes.values["seed"])) < live
    t0 = time.perf_counter()
    out, _ = train.train(prog, state, ctx, [t_end], active=active)
    jax.block_until_ready(out)
    return time.perf_counter() - t0


def run() -> dict:
    cfg = threshold_wide.get_config()
    cfg.max_lanes = 40
    runs = grid.expand(cfg)
    chunk = grid.plan(cfg, runs)[2]
    lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
    rows = []
    lane_bytes = chunk.program.family.lane_bytes(chunk.program.dtype)
    for block in BLOCKS:
        size = {
            "picked": sharding.lanes_at_once(None, lane_bytes),
            "llc": max(1, sharding.cache_bytes(3) // lane_bytes),
        }.get(block, block)
        prog = dataclasses.replace(chunk.program, lane_batch=size)
        timed(prog, lanes, len(lanes.values["seed"]), 0.25)  # compiles
        for live in LIVE:
            seconds = round(timed(prog, lanes, live), 3)
            rows.append({"block": size, "how": str(block), "live": live, "seconds": seconds})
    return {
        "machine": machine.machine_info(),
        "lanes": chunk.lanes,
        "rows": rows,
        "load_avg": machine.load_avg(),
    }


def table(res: dict) -> str:
    lines = [
        f"`python -m benchmarks.idle_lanes` on {res['machine']['cpu']}, "
        f"{res['machine']['cores']} cores (load {res['load_avg']}): threshold_wide's chunk of "
        f"n = 45 to 91, {res['lanes']} lanes, 200 steps",
        "",
        "| lanes a block | live lanes | seconds |",
        "|---|---|---|",
    ]
    for r in res["rows"]:
        how = {"picked": " (lanes_at_once)", "llc": " (last-level cache alone)"}.get(r["how"], "")
        how = f"{r['block']}{how}"
        lines.append(f"| {how} | {r['live']} | {r['seconds']} |")
    return "\n".join(lines)


def main(argv):
    del argv
    res = run()
    results.write_json("benchmarks/idle_lanes.json", res)
    machine.publish("IDLE_LANES", table(res))


if __name__ == "__main__":
    app.run(main)
