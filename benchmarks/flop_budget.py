"""What a GD sweep costs in FLOPs, and the time it needs on a device of a given sustained rate.

    python -m benchmarks.flop_budget [--configs=threshold_quick,threshold_paper,threshold_vs_d]

For each chunk of a config, XLA's cost analysis of the compiled loss-and-gradient of one lane
(the work of one GD step of one network at the chunk's padded shapes) gives FLOPs per net-step.
The sweep's total lies between two bounds: every run decided at ``max_time`` (the first pass
only) and every run continued to ``time_cap``. Dividing by a sustained rate gives the time:
the CPU rate this machine measured on W1 (``benchmarks/results.json``: the same kind of work)
calibrates the model against a measured job, and the GPU rate is an assumption, stated as such.
With the published configs (the default) writes benchmarks/flop_budget.json and the FLOP_BUDGET
block of BENCHMARKS.md; with any other ``--configs`` it prints the table and writes nothing.
"""

from __future__ import annotations

import functools
import importlib
import json
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

from alignment.engine import train
from alignment.runner import results
from alignment.two_layer import grid
from alignment.two_layer import job as threshold_job
from benchmarks import machine

PUBLISHED = ["threshold_quick", "threshold_paper", "threshold_vs_d"]  # BENCHMARKS.md's table
_CONFIGS = flags.DEFINE_list("configs", PUBLISHED, "Config modules in sweeps/configs (GD configs).")
# H200 (SXM): 67 TFLOP/s float32 peak without tensor cores; these small matmuls and the
# elementwise work on the m x n preactivations reach a fraction of it. 20% is an assumption.
_GPU_RATE = flags.DEFINE_float("gpu_tflops", 0.2 * 67.0, "Assumed sustained GPU TFLOP/s.")
# A step of the compiled while loop is a few fused kernels and a device-side loop test; on a
# GPU each costs launch latency whatever its size. 50 us a step is an assumption.
_GPU_STEP_US = flags.DEFINE_float("gpu_step_us", 50.0, "Assumed GPU latency per loop step (us).")


def flops_per_net_step(prog: train.Program, lanes: train.Lanes) -> float:
    """XLA's FLOP count of one lane's loss and gradient at the program's shapes (traced from
    shapes alone: nothing is initialized or run)."""
    lane = {k: v[0] for k, v in train._device_lanes(prog, lanes.take([0])).items()}
    state, ctx = jax.eval_shape(functools.partial(train._init_run, prog), lane)

    def loss_and_grad(params, fctx):
        return prog.family.loss_and_grad(params, ctx=fctx)

    cost = jax.jit(loss_and_grad).lower(state.params, ctx.family).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost["flops"])


def budget(name: str) -> dict:
    """FLOPs of a GD config's sweep: per chunk, and the two bounds in total."""
    cfg = importlib.import_module(f"sweeps.configs.{name}").get_config()
    if cfg.integrator != "gd":
        raise ValueError(f"{name}: integrator={cfg.integrator!r}; only gd configs are counted")
    runs = grid.expand(cfg)
    chunks = threshold_job.validate(cfg, runs)
    lo = hi = 0.0
    seq_lo = seq_hi = 0
    rows = []
    for chunk in chunks:
        lanes = grid.lanes_for(runs, chunk.run_ids, chunk.lanes)
        per_step = flops_per_net_step(chunk.program, lanes)
        lr = np.asarray(runs["lr"], np.float64)[np.asarray(chunk.run_ids)]
        first = float(np.sum(per_step * cfg.max_time / lr))
        capped = float(np.sum(per_step * cfg.time_cap / lr))
        lo, hi = lo + first, hi + capped
        # the chunk's lanes step together: its slowest lane sets the sequential step count
        seq_lo += int(np.max(np.rint(cfg.max_time / lr)))
        seq_hi += int(np.max(np.rint(cfg.time_cap / lr)))
        rows.append(
            {
                "chunk": chunk.index,
                "runs": len(chunk.run_ids),
                "flops_per_net_step": per_step,
                "flops_first_pass": first,
                "flops_to_cap": capped,
            }
        )
    return {
        "config": name,
        "runs": len(runs["n"]),
        "chunks": rows,
        "flops_low": lo,
        "flops_high": hi,
        "steps_low": seq_lo,
        "steps_high": seq_hi,
    }


def cpu_rate() -> float | None:
    """Sustained float32 GFLOP/s of this machine's trainer on W1 (benchmarks/results.json)."""
    path = Path("benchmarks/results.json")
    if not path.exists():
        return None
    return float(json.loads(path.read_text())["W1"]["gflops"])


def table(res: dict) -> str:
    cpu, gpu, lat = res["cpu_gflops"] * 1e9, res["gpu_tflops"] * 1e12, res["gpu_step_us"] * 1e-6
    lines = [
        f"`python -m benchmarks.flop_budget`: XLA FLOP counts. CPU: the rate W1 sustained here "
        f"({cpu / 1e9:.3g} GFLOP/s), a lower bound on time (per-step overheads and statistics "
        f"not counted). GPU (**assumed**): {gpu / 1e12:.3g} TFLOP/s sustained (20% of an H200's "
        f"float32 peak) and {lat * 1e6:.0f} us per sequential loop step, the larger of the two.",
        "",
        "| config | runs | chunks | TFLOP (all decided at max_time .. all to the cap) "
        "| sequential steps | CPU hours (lower bound) | GPU minutes |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in res["configs"]:
        lo, hi, slo, shi = b["flops_low"], b["flops_high"], b["steps_low"], b["steps_high"]
        g_lo, g_hi = max(lo / gpu, slo * lat) / 60, max(hi / gpu, shi * lat) / 60
        lines.append(
            f"| {b['config']} | {b['runs']} | {len(b['chunks'])} | {lo / 1e12:.3g} .. "
            f"{hi / 1e12:.3g} | {slo:.3g} .. {shi:.3g} | {lo / cpu / 3600:.2g} .. "
            f"{hi / cpu / 3600:.2g} | {g_lo:.2g} .. {g_hi:.2g} |"
        )
    return "\n".join(lines)


def main(argv):
    del argv
    rate = cpu_rate()
    if rate is None:
        raise SystemExit("benchmarks/results.json is missing: run python -m benchmarks.throughput")
    res = {
        "machine": machine.machine_info(),
        "cpu_gflops": rate,
        "gpu_tflops": _GPU_RATE.value,
        "gpu_step_us": _GPU_STEP_US.value,
        "configs": [budget(c) for c in _CONFIGS.value],
    }
    if list(_CONFIGS.value) != PUBLISHED:  # a user's question: answered, nothing overwritten
        print(table(res))
        return
    results.write_json("benchmarks/flop_budget.json", res)
    machine.publish("FLOP_BUDGET", table(res))


if __name__ == "__main__":
    app.run(main)
