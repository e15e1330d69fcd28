"""What checkpointing inside a chunk costs: the same chunks with and without checkpoints.

    python -m benchmarks.checkpoint [--workload=default|long]

``default`` is the main job's config (threshold_quick, every chunk); ``long`` is one long
chunk of the published protocol (threshold_paper at n = 316: m = 1000, 10 seeds, cap 3e4). In
one process: a warm-up pass (compiles every program), then passes without checkpoints and with
a checkpoint saved after every compiled call (as ``sweeps.run`` does), alternating, twice
each; the faster pass of each kind is reported. The saves' own time (host copy, npz, fsync,
rename) is also measured directly. Writes
benchmarks/checkpoint_WORKLOAD.json and the CHECKPOINT block of BENCHMARKS.md.
"""

from __future__ import annotations

import importlib
import operator
import tempfile
import time

from absl import app, flags

from alignment import registry as sweep
from alignment.runner import checkpoint, provenance, results
from alignment.two_layer import grid, records, verdict_loop
from benchmarks import machine

WORKLOADS = {
    "default": ("threshold_quick", {}),
    "long": ("threshold_paper", {"n": (316,), "num_seeds": 10, "time_cap": 3e4}),
}
REPEATS = (False, True, False, True)  # passes after the warm-up: without, with, ...
WALL = operator.itemgetter("wall_s")
_WORKLOAD = flags.DEFINE_enum("workload", "default", list(WORKLOADS), "What to time.")


def workload_config(name: str):
    module, overrides = WORKLOADS[name]
    cfg = importlib.import_module(f"sweeps.configs.{module}").get_config()
    for k, v in overrides.items():
        cfg[k] = v
    return cfg


def one_pass(cfg, runs, chunks, folder, with_checkpoints: bool) -> dict:
    """Wall time of every chunk through the verdict loop; saves and their time."""
    stamp = provenance.stamp(sweep.config_json(cfg), sweep.job_for(cfg).neutral)
    wall, saves, save_s = 0.0, 0, 0.0
    for chunk in chunks:
        store = None
        if with_checkpoints:
            store = checkpoint.Store(checkpoint.checkpoint_path(folder, chunk.index), stamp)
        start = time.perf_counter()
        keep = records.neuron_runs(cfg, runs, chunk)  # as the threshold job's task keeps them
        verdict_loop.train_chunk(cfg, runs, chunk, store, keep_neurons=keep)
        wall += time.perf_counter() - start
        if store is not None:
            saves, save_s = saves + store.saves, save_s + store.seconds
            store.remove()
    return {"wall_s": wall, "saves": saves, "save_s": save_s}


def run(name: str) -> dict:
    cfg = workload_config(name)
    runs = grid.expand(cfg)
    chunks = sweep.check_config(cfg)
    with tempfile.TemporaryDirectory() as folder:
        one_pass(cfg, runs, chunks, folder, True)  # warm-up: compiles every program
        passes = [one_pass(cfg, runs, chunks, folder, flag) for flag in REPEATS]
    # the faster of the two passes of each kind: the wall times of equal passes differ by
    # a few percent with the machine's load, more than the checkpoints cost
    off = min((p for p, f in zip(passes, REPEATS, strict=True) if not f), key=WALL)
    on = min((p for p, f in zip(passes, REPEATS, strict=True) if f), key=WALL)
    res = {
        "workload": name,
        "config": WORKLOADS[name][0],
        "overrides": {
            k: list(v) if isinstance(v, tuple) else v for k, v in WORKLOADS[name][1].items()
        },
        "machine": machine.machine_info(),
        "chunks": len(chunks),
        "wall_without_s": round(off["wall_s"], 2),
        "wall_with_s": round(on["wall_s"], 2),
        "saves": on["saves"],
        "save_s": round(on["save_s"], 3),
        "overhead_wall": round(on["wall_s"] / off["wall_s"] - 1, 4),
        "overhead_saves": round(on["save_s"] / on["wall_s"], 4),
        "load_avg": machine.load_avg(),
    }
    results.write_json(f"benchmarks/checkpoint_{name}.json", res)
    return res


def table(res: dict) -> str:
    over = ", ".join(f"{k}={v}" for k, v in res["overrides"].items()) or "as shipped"
    return "\n".join(
        [
            f"`python -m benchmarks.checkpoint --workload={res['workload']}` ({res['config']}, "
            f"{over}; {res['chunks']} chunks) on {res['machine']['cpu']}, "
            f"{res['machine']['cores']} cores (load {res['load_avg']}):",
            "",
            "| quantity | value |",
            "|---|---|",
            f"| verdict loop without checkpoints (s, compiled) | {res['wall_without_s']} |",
            f"| verdict loop with a checkpoint after every call (s) | {res['wall_with_s']} |",
            f"| checkpoint saves / their total time (s) | {res['saves']} / {res['save_s']} |",
            f"| overhead: wall with / without - 1 | {res['overhead_wall']:.2%} |",
            f"| overhead: save time / wall time | {res['overhead_saves']:.2%} |",
        ]
    )


def main(argv):
    del argv
    res = run(_WORKLOAD.value)
    machine.publish(f"CHECKPOINT {res['workload']}", table(res))


if __name__ == "__main__":
    app.run(main)
