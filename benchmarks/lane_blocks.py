"""Why W2 ran below a per-network loop, and what cache-sized lane blocks change. One run.

    python -m benchmarks.lane_blocks

1. The batched forward matmul of a ReLU step (L lanes of (m x d) @ (d x n), W2's shapes) for
   L = 1 .. 16: per-lane time and GFLOP/s against the size of its output, next to the CPU's
   last-level cache.
2. W2 (16 x n=1000, d=100, m=1000, 200 steps) through the trainer as one vmap of 16 lanes and
   in cache-sized blocks (``Program.lane_batch`` left to ``sharding.lanes_at_once``), with the
   share of the wall time spent in the snapshot statistics.
3. THRESHOLD: the default job's own steps (threshold_quick's chunks: d = 5, m = 50, padded n
   32 and 184), L lanes in one vmap, per-lane step time against L: where the small-d step's
   working set spills a core's L2, and the block ``sharding.lanes_at_once`` picks.

Writes benchmarks/lane_blocks.json and the LANE_BLOCKS block of BENCHMARKS.md.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app

from alignment.engine import sharding, train
from alignment.runner import results
from alignment.two_layer import grid
from alignment.two_layer import job as threshold_job
from benchmarks import machine, workloads
from sweeps.configs import threshold_quick


def _best(fn, *args, repeats: int = 5) -> float:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return min(times)


def matmul_sweep(n=1000, d=100, m=1000, lanes=(1, 2, 4, 8, 12, 16)) -> list[dict]:
    """Per-lane time of L batched (m x d) @ (d x n) float32 matmuls (vmapped, jitted)."""
    rng = np.random.default_rng(0)
    mm = jax.jit(jax.vmap(lambda w, x: w @ x.T))
    out = []
    for L in lanes:
        x = jnp.asarray(rng.normal(size=(L, n, d)), jnp.float32)
        w = jnp.asarray(rng.normal(size=(L, m, d)), jnp.float32)
        t = _best(mm, w, x) / L
        out.append(
            {
                "lanes": L,
                "per_lane_ms": t * 1e3,
                "gflops": 2 * n * d * m / t / 1e9,
                "output_mib": L * n * m * 4 / 2**20,
            }
        )
    return out


def w2_blocks() -> dict:
    """W2 in one call of 16 lanes: one vmap (lane_batch=0) against cache-sized blocks."""
    w = workloads.WORKLOADS["W2"]
    plain = workloads.Workload.program
    out = {}
    for label, lane_batch in (("one_vmap", 0), ("cache_blocks", None)):

        def program(self, trainer=train, lane_batch=lane_batch):
            return dataclasses.replace(plain(self, trainer), lane_batch=lane_batch)

        workloads.Workload.program = program
        try:
            r, _ = workloads.bench_trainer(w, 16)
        finally:
            workloads.Workload.program = plain
        out[label] = {k: r[k] for k in ("wall_s", "net_steps_per_s", "stats_s")}
    lane_bytes = plain(w).family.lane_bytes(jnp.float32)
    out["block"] = sharding.lanes_at_once(None, lane_bytes)
    out["speedup"] = out["one_vmap"]["wall_s"] / out["cache_blocks"]["wall_s"]
    return out


THRESHOLD_LANES = (1, 2, 4, 5, 6, 8, 12, 16, 24, 40)


def threshold_lanes() -> list[dict]:
    """threshold_quick's chunk programs, L lanes in one vmap: microseconds per lane-step over
    a window of GD steps at the full step (t = 300 to 400, 400 steps), compiled first."""
    cfg = threshold_quick.get_config()
    runs = grid.expand(cfg)
    out = []
    for chunk in threshold_job.validate(cfg, runs):
        lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
        fam = chunk.program.family
        for num in THRESHOLD_LANES:
            prog = dataclasses.replace(chunk.program, lane_batch=0)
            state, ctx = train.init_runs(prog, lanes.take(list(range(num))))
            state, _ = train.train(prog, state, ctx, [100.0, 200.0])  # compiles, warms up
            before = np.asarray(jax.device_get(state.step))
            t0 = time.perf_counter()
            state, snaps = jax.block_until_ready(train.train(prog, state, ctx, [300.0, 400.0]))
            wall = time.perf_counter() - t0
            steps = int(np.max(np.asarray(snaps["step"])[:, -1] - before))
            out.append(
                {
                    "n_pad": fam.n_pad,
                    "lanes": num,
                    "lane_kib": fam.lane_bytes(jnp.float32) / 2**10,
                    "us_per_lane_step": wall / steps / num * 1e6,
                    "block": sharding.lanes_at_once(None, fam.lane_bytes(jnp.float32)),
                }
            )
    return out


def threshold_table(rows: list[dict], l2: int) -> list[str]:
    lines = [
        "",
        f"threshold_quick's steps, L lanes in one vmap (L2 {l2 / 2**20:.0f} MiB a core; "
        f"block = L2 // ({sharding.WORKING_SET} x lane bytes)):",
        "",
        "| padded n | lane bytes (KiB) | "
        + " | ".join(f"L={n}" for n in THRESHOLD_LANES)
        + " | block picked |",
        "|---|---|" + "---|" * len(THRESHOLD_LANES) + "---|",
    ]
    for n_pad in dict.fromkeys(r["n_pad"] for r in rows):
        mine = [r for r in rows if r["n_pad"] == n_pad]
        cells = " | ".join(f"{r['us_per_lane_step']:.1f}" for r in mine)
        lines.append(f"| {n_pad} | {mine[0]['lane_kib']:.0f} | {cells} | {mine[0]['block']} |")
    lines.append("")
    lines.append("(microseconds per lane-step)")
    return lines


def table(res: dict) -> str:
    mib = res["cache_bytes"] / 2**20
    lines = [
        f"`python -m benchmarks.lane_blocks` on {res['machine']['cpu']} (last-level cache "
        f"{mib:.0f} MiB; load {res['load_avg']}):",
        "",
        "| lanes L | forward matmul per lane (ms) | GFLOP/s | output (MiB) |",
        "|---|---|---|---|",
    ]
    for r in res["matmul"]:
        lines.append(
            f"| {r['lanes']} | {r['per_lane_ms']:.2f} | {r['gflops']:.0f} | {r['output_mib']:.0f} |"
        )
    b = res["w2"]
    lines += [
        "",
        "| W2, 16 lanes in one call | wall (s) | net-steps/s | statistics share |",
        "|---|---|---|---|",
    ]
    for k, name in (("one_vmap", "one vmap"), ("cache_blocks", f"blocks of {b['block']}")):
        r = b[k]
        lines.append(
            f"| {name} | {r['wall_s']:.2f} | {r['net_steps_per_s']:.1f} | "
            f"{r['stats_s'] / r['wall_s']:.0%} |"
        )
    lines += ["", f"Blocks against one vmap: {b['speedup']:.2f}x in this run."]
    lines += threshold_table(res["threshold"], res["l2_bytes"])
    return "\n".join(lines)


def main(argv):
    del argv
    res = {"machine": machine.machine_info(), "cache_bytes": sharding.cache_bytes()}
    res["matmul"] = matmul_sweep()
    res["w2"] = w2_blocks()
    res["l2_bytes"] = sharding.cache_bytes(2)
    res["threshold"] = threshold_lanes()
    res["load_avg"] = machine.load_avg()
    results.write_json("benchmarks/lane_blocks.json", res)
    machine.publish("LANE_BLOCKS", table(res))


if __name__ == "__main__":
    app.run(main)
