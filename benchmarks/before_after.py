"""Per-step time of the trainer now against an older revision of alignment/train.py.

    python -m benchmarks.before_after --rev=3f2169b     # the trainer before issue 5's changes

Loads ``git show REV:alignment/train.py`` as a separate module next to the current one, and
times the two alternately (same process, same shapes, compile excluded, several rounds) on the
issue's workloads and on the sweep's bucket shapes; writes ``benchmarks/before_after.json``.
Wall and process CPU time per step are both recorded: on a shared machine the CPU time is the
steadier of the two.
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

from alignment import results, train
from benchmarks import throughput as tp

# (name, runs, n, d, m, steps per timed call)
SHAPES = (
    ("W1", 64, 512, 10, 100, 300),
    ("W1 in calls of 16 lanes", 16, 512, 10, 100, 1000),
    ("W2", 16, 1000, 100, 1000, 20),
    ("W2 in calls of 4 lanes", 4, 1000, 100, 1000, 40),
    ("sweep bucket n_pad=32", 40, 32, 5, 50, 5000),
    ("sweep bucket n_pad=184", 40, 184, 5, 50, 3000),
)

_REV = flags.DEFINE_string("rev", "3f2169b", "Git revision of the 'before' alignment/train.py.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Alternating timed calls per trainer and shape.")
_JSON = flags.DEFINE_string("json", str(tp.ROOT / "benchmarks" / "before_after.json"), "Output.")


def load_revision(rev: str):
    """alignment/train.py at ``rev`` as a module of its own."""
    text = subprocess.run(
        ["git", "show", f"{rev}:alignment/train.py"],
        cwd=tp.ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp(prefix="train_before_")) / "train_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("train_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["train_before"] = mod
    spec.loader.exec_module(mod)
    return mod


def compare(trainers: dict, runs: int, n: int, d: int, m: int, steps: int, rounds: int) -> dict:
    """Median wall and CPU ms per step of each trainer, timed alternately."""
    w = tp.Workload("cmp", runs=runs, n=n, d=d, m=m, steps=steps)
    prog, lanes = w.program(), w.lanes()
    states, t_end = {}, w.lr
    for name, mod in trainers.items():  # warm-up: compile, one step
        state, ctx = mod.init_runs(prog, lanes)
        state, _ = mod.train(prog, state, ctx, np.array([0.0, w.lr]), lanes.lr)
        states[name] = (jax.block_until_ready(state), ctx)
    times = {name: {"wall": [], "cpu": []} for name in trainers}
    for _ in range(rounds):
        grid = np.array([t_end, t_end + w.lr * steps])
        t_end = grid[-1]
        for name, mod in trainers.items():
            state, ctx = states[name]
            t0, c0 = time.perf_counter(), time.process_time()
            state, snaps = mod.train(prog, state, ctx, grid, lanes.lr)
            jax.block_until_ready((state, snaps))
            times[name]["wall"].append((time.perf_counter() - t0) / steps * 1e3)
            times[name]["cpu"].append((time.process_time() - c0) / steps * 1e3)
            states[name] = (state, ctx)
    out = {
        name: {f"{k}_ms_per_step": float(np.median(v)) for k, v in t.items()}
        for name, t in times.items()
    }
    b, a = out["before"], out["after"]
    out["speedup_wall"] = b["wall_ms_per_step"] / a["wall_ms_per_step"]
    out["speedup_cpu"] = b["cpu_ms_per_step"] / a["cpu_ms_per_step"]
    out["shape"] = {"runs": runs, "n": n, "d": d, "m": m, "steps_per_call": steps}
    return out


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    trainers = {"before": load_revision(_REV.value), "after": train}
    res = {"rev_before": _REV.value, "machine": tp.machine_info(), "shapes": {}}
    for name, *shape in SHAPES:
        load = tp.load_avg()
        res["shapes"][name] = compare(trainers, *shape, _ROUNDS.value) | {"load_avg": load}
        logging.info("%s: %s", name, res["shapes"][name])
    res["measured_at"] = datetime.datetime.now().isoformat(timespec="seconds")
    results.write_json(_JSON.value, res)
    for name, r in res["shapes"].items():
        print(
            f"{name:24s} before {r['before']['wall_ms_per_step']:8.3f} ms/step  after "
            f"{r['after']['wall_ms_per_step']:8.3f}  speedup {r['speedup_wall']:.2f}x wall, "
            f"{r['speedup_cpu']:.2f}x cpu  (load {r['load_avg'][0]})"
        )


if __name__ == "__main__":
    app.run(main)
